import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { HttpModule } from './http.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface Cached {
  body: Buffer;
  etag: string;
  type: string;
  mtimeMs: number;
}

/**
 * Serves the files of `dir` under `prefix` (pages and their assets), with ETags and no
 * directory traversal. `index` is served for the prefix itself and, when `spa` is set, for
 * any path without a file extension (client-side routes).
 *
 * @example
 * modules.push(staticFiles({ prefix: '/bi', dir: 'web/bi', spa: true }));
 */
export function staticFiles(options: { prefix: string; dir: string; index?: string; spa?: boolean; maxAge?: number }): HttpModule {
  const root = path.resolve(options.dir);
  const index = options.index ?? 'index.html';
  const prefix = options.prefix.replace(/\/$/, '');
  const cache = new Map<string, Cached>();

  const load = (file: string): Cached | undefined => {
    if (!existsSync(file) || !statSync(file).isFile()) return undefined;
    const mtimeMs = statSync(file).mtimeMs;
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === mtimeMs) return hit;
    const body = readFileSync(file);
    const entry = {
      body,
      etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
      type: TYPES[path.extname(file)] ?? 'application/octet-stream',
      mtimeMs,
    };
    cache.set(file, entry);
    return entry;
  };

  return (app) => {
    const handler = async (req: { url: string; headers: Record<string, string | string[] | undefined> }, reply: import('fastify').FastifyReply) => {
      const rel = decodeURIComponent(req.url.split('?')[0] ?? '').slice(prefix.length).replace(/^\/+/, '');
      const target = path.resolve(root, rel === '' ? index : rel);
      if (target !== root && !target.startsWith(`${root}${path.sep}`)) {
        return reply.code(404).send({ code: 'route_not_found', message: 'not found' });
      }
      let file = load(target);
      if (!file && options.spa && path.extname(rel) === '') file = load(path.join(root, index));
      if (!file) return reply.code(404).send({ code: 'route_not_found', message: `no file ${rel}` });
      void reply.header('etag', file.etag).header('cache-control', `public, max-age=${options.maxAge ?? 0}`);
      if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
      return reply.type(file.type).send(file.body);
    };
    app.get(prefix === '' ? '/' : prefix, { schema: { hide: true } }, handler);
    app.get(`${prefix}/*`, { schema: { hide: true } }, handler);
  };
}

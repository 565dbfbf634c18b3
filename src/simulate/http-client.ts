import http from 'node:http';

/** An answer as the simulated shoppers need it: status, headers, whole body as text. */
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface HttpRequest {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  /** Gives up after this long (the error's name is 'TimeoutError', as with AbortSignal.timeout). */
  timeoutMs?: number;
}

/**
 * A plain HTTP/1.1 client over kept-alive connections, for the load the simulator drives: it
 * costs the driver a fraction of what `fetch` does per request (no web streams, no per-request
 * abort signal), so the CPU it shares with the platform on one machine goes to the platform.
 * Redirects are not followed. http: URLs only.
 *
 * @example
 * const client = httpClient();
 * const res = await client.request('http://127.0.0.1:3000/healthz', { method: 'GET' });
 * client.close();
 */
export function httpClient(options: { maxSockets?: number } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 512, scheduling: 'lifo' });
  return {
    request(url: string, req: HttpRequest): Promise<HttpAnswer> {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = { ...req.headers };
        if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
        const r = http.request(url, { method: req.method, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        r.on('error', reject);
        if (req.timeoutMs !== undefined) {
          r.setTimeout(req.timeoutMs, () => {
            const err = new Error(`no answer from ${url} within ${req.timeoutMs} ms`);
            err.name = 'TimeoutError';
            r.destroy(err);
          });
        }
        r.end(req.body);
      });
    },
    close(): void {
      agent.destroy();
    },
  };
}

export type HttpClient = ReturnType<typeof httpClient>;

import { adminTokenCheck } from './admin-token.js';
import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { databaseUnavailable, isConnectionError } from './db-errors.js';
import { AppError, httpStatus, isAppError, platformError } from './errors.js';
import type { Logger } from './log.js';
import { counter, gauge, type Metrics } from './metrics.js';

/** The Fastify instance every context registers its routes on, typed with zod schemas. */
export type HttpApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** A context's routes: a function that registers them on the app. */
export type HttpModule = (app: HttpApp) => void | Promise<void>;

/** A readiness check: resolves to undefined when ready, or a reason when not. */
export type ReadinessCheck = () => Promise<string | undefined>;

export interface HttpDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: Record<string, ReadinessCheck>;
  modules: HttpModule[];
  title?: string;
  bodyLimit?: number;
  /**
   * Staff routes: every `/admin/...` request needs `x-admin-token` equal to `token` (403
   * otherwise; all refused when no token is configured). Checked here once, before any
   * context's handler, so no admin route can be published without it.
   */
  admin?: { token: string | undefined };
  /**
   * Requests served at once beyond which new ones are refused at once with 503 `overloaded`
   * and `Retry-After` instead of queueing (EMBUDO_HTTP_MAX_IN_FLIGHT; unset: no limit). Routes
   * that start a shopper's session (`ADMIT.begins`) are refused from half of it, so work
   * already begun finishes first; `ADMIT.always` routes (processor returns and notifications,
   * which finish payments) and health, readiness and metrics are never refused.
   */
  maxInFlight?: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How admission control treats the route (see HttpDeps.maxInFlight). */
    admission?: 'always' | 'begins';
  }
}

/** Route `config` values for admission control (see HttpDeps.maxInFlight). */
export const ADMIT = {
  /** Never refused for load: it finishes work already begun (a payment's return or notification). */
  always: { admission: 'always' },
  /** Begins a shopper's session: refused first when the platform is loaded. */
  begins: { admission: 'begins' },
} as const;

/** The body every error response has: a machine-readable code and a human message. */
export const ErrorBody = z
  .object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    request_id: z.string(),
  })
  .meta({ id: 'Error' });

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The header carrying a client's read-your-writes position (from `db.position()` after a
 * write, or `db.consistentRead`): routes answer with it and accept it back.
 */
export const POSITION_HEADER = 'x-embudo-position';
const POSITION = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/**
 * The position the client has already seen, for `db.consistentRead(fn, { after })`.
 *
 * @example
 * const { value, position } = await db.consistentRead((tx) => status(tx, id), { after: readAfter(req) });
 * sendPosition(reply, position);
 */
export function readAfter(req: FastifyRequest): string | undefined {
  const value = req.headers[POSITION_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !POSITION.test(value)) {
    throw platformError('invalid_request', `${POSITION_HEADER} must be a position like 0/16B3748`);
  }
  return value;
}

/** Hands the client the position it has now seen (see `readAfter`). */
export function sendPosition(reply: FastifyReply, position: string): void {
  void reply.header(POSITION_HEADER, position);
}

/**
 * Builds the HTTP app without listening, so tests use `app.inject()`.
 *
 * @example
 * const app = await createHttpApp({ logger, metrics, readiness: {}, modules: [catalogRoutes] });
 * const res = await app.inject({ method: 'GET', url: '/healthz' });
 */
export async function createHttpApp(deps: HttpDeps): Promise<HttpApp> {
  // Typed as Fastify's logger interface so the app's type stays the plain HttpApp.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    // Per-request access lines would dominate the logs at peak; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? 1_048_576,
    return503OnClosing: true,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: deps.title ?? 'Embudo API',
        description: 'Retail commerce data platform: catalog, stock, checkout, payments, analytics.',
        version: '0.1.0',
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });

  if (deps.maxInFlight !== undefined) admission(app, deps.maxInFlight, deps.metrics);

  if (deps.admin) {
    const check = adminTokenCheck(deps.admin.token);
    app.addHook('onRequest', async (req) => {
      if (!req.url.startsWith('/admin/') && req.url !== '/admin') return;
      // The same answers as the contexts' own guards: 403 `forbidden`, or `admin_disabled`.
      switch (check(req)) {
        case 'admin_disabled':
          throw platformError('admin_disabled', 'admin routes are disabled (no admin token configured)');
        case 'forbidden':
          throw platformError('forbidden', 'a valid x-admin-token is required');
        case undefined:
          return;
      }
    });
  }

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route, status: String(reply.statusCode) };
    deps.metrics.httpRequests.inc(labels);
    deps.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });

  app.setNotFoundHandler((req, reply) => {
    sendError(req, reply, platformError('route_not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    sendError(req, reply, toAppError(err));
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const results = await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => {
        try {
          return [name, await check()] as const;
        } catch (err) {
          return [name, err instanceof Error ? err.message : 'check failed'] as const;
        }
      }),
    );
    const failing = Object.fromEntries(results.filter(([, reason]) => reason !== undefined));
    const ready = Object.keys(failing).length === 0;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(results.map(([name, reason]) => [name, reason ?? 'ok'])),
    });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const register of deps.modules) await register(app);
  await app.ready();
  return app;
}

const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Load shedding: at most `max` requests in flight (a shopper's first requests, at most half);
 * the rest are answered at once with 503 `overloaded` and `Retry-After: 1`, so an overload
 * costs callers a retry instead of every request a queue (and the process its memory).
 */
function admission(app: HttpApp, max: number, metrics: Metrics): void {
  let inFlight = 0;
  const serving = gauge(metrics.registry, 'embudo_http_in_flight', 'HTTP requests being served (admission control)');
  const shed = counter(metrics.registry, 'embudo_http_shed_total', 'HTTP requests refused with 503 overloaded', ['route']);
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    const how = req.routeOptions.config.admission;
    if (how === 'always' || route === undefined || NEVER_SHED.has(route)) return;
    if (inFlight >= (how === 'begins' ? Math.max(1, Math.floor(max / 2)) : max)) {
      shed.inc({ route });
      throw platformError('overloaded', 'the platform is at capacity; retry shortly', { retryAfterSeconds: 1 });
    }
    inFlight++;
    serving.set(inFlight);
    // 'close' comes once the answer is written or the connection is gone, whatever happened.
    reply.raw.once('close', () => {
      inFlight--;
      serving.set(inFlight);
    });
  });
}

function toAppError(err: FastifyError | AppError): AppError {
  if (isAppError(err)) return err;
  // Raw pg clients (db.connect()) bypass the Db handle's mapping; the answer is the same.
  if (isConnectionError(err)) return databaseUnavailable(err);
  if (hasZodFastifySchemaValidationErrors(err)) {
    return platformError('invalid_request', 'the request does not match the schema', {
      issues: err.validation.map((v) => ({
        in: err.validationContext,
        path: v.instancePath,
        message: v.message,
      })),
    });
  }
  if (isResponseSerializationError(err)) return err as unknown as AppError;
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return platformError('unsupported_media_type', err.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return platformError('payload_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return platformError('invalid_json', 'the body is not valid JSON');
    default:
      break;
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return platformError('invalid_json', 'the body is not valid JSON');
  }
  if (err.statusCode === 503) return platformError('unavailable', 'the service is shutting down');
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return platformError('invalid_request', err.message);
  }
  return err as unknown as AppError;
}

function sendError(req: FastifyRequest, reply: FastifyReply, err: AppError | Error): void {
  if (isAppError(err)) {
    const status = httpStatus(err.kind);
    req.log.info({ code: err.code, status, url: req.url }, err.message);
    if (status === 503) void reply.header('retry-after', '1');
    void reply.code(status).send({
      code: err.code,
      message: err.message,
      ...(err.details ? { details: err.details } : {}),
      request_id: req.id,
    });
    return;
  }
  req.log.error({ err, url: req.url }, 'unhandled error');
  void reply.code(500).send({ code: 'internal', message: 'Internal server error', request_id: req.id });
}

import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { SimHttpError, type SimContext } from './context.js';
import { oneclickRoutes } from './oneclick-http.js';
import { webpayRoutes } from './tbk-http.js';

const isMp = (url: string) => url.startsWith('/v1/');
const isApi = (url: string) => url.startsWith('/rswebpaytransaction/') || isMp(url);

function errorBody(req: FastifyRequest, status: number, message: string): Record<string, unknown> {
  if (isMp(req.url)) {
    const error = status === 404 ? 'not_found' : status === 401 ? 'unauthorized' : status >= 500 ? 'internal_error' : 'bad_request';
    return { message, error, status, cause: [] };
  }
  return { error_message: message };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The simulator's HTTP app (not listening): Transbank and Mercado Pago routes with their own
 * error bodies, the shopper pages, and the /sim control API.
 */
export async function buildSimApp(ctx: SimContext, extra: ((app: FastifyInstance) => void)[] = []): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 262_144 });

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
  });

  app.addHook('onRequest', async (req, reply) => {
    if (!isApi(req.url)) return;
    const merchant = req.headers['tbk-api-key-id'];
    const fault = ctx.faults.take(req.url, typeof merchant === 'string' ? merchant : undefined);
    if (!fault) return;
    switch (fault.kind) {
      case 'delay':
        await sleep(fault.ms);
        return;
      case 'timeout':
        // Hold the call past the client's patience, then drop it without an answer.
        await sleep(fault.ms);
        req.raw.socket.destroy();
        return reply.hijack();
      case 'reset':
        req.raw.socket.destroy();
        return reply.hijack();
      case 'error500':
        return reply.code(500).send(errorBody(req, 500, isMp(req.url) ? 'internal_error' : 'Internal Server Error'));
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    if (!isApi(req.url)) return;
    void ctx.store
      .log({ at: ctx.clock.now(), direction: 'in', summary: `${req.method} ${req.url.split('?')[0]}`, status: reply.statusCode })
      .catch(() => undefined);
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(req, 404, isMp(req.url) ? 'resource not found' : 'Not Found'));
  });

  app.setErrorHandler((err: FastifyError | SimHttpError, req, reply) => {
    if (err instanceof SimHttpError) return reply.code(err.status).send(err.body);
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message = /JSON/i.test(err.message) || err.code?.startsWith('FST_ERR_CTP') ? 'Invalid JSON body' : err.message;
      return reply.code(status === 413 ? 413 : status === 415 ? 415 : 400).send(errorBody(req, status, message));
    }
    ctx.logger?.error({ err, url: req.url }, 'processor simulator error');
    return reply.code(500).send(errorBody(req, 500, 'Internal Server Error'));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  webpayRoutes(ctx)(app);
  oneclickRoutes(ctx)(app);
  for (const register of extra) register(app);
  await app.ready();
  return app;
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { mpError, type SimContext } from './context.js';
import { asBody } from './domain/validate.js';
import {
  createCardToken,
  createPayment,
  getPayment,
  hashBody,
  paymentBody,
  refundBody,
  refundPayment,
  transition,
  type MpPayment,
} from './mercadopago.js';

function bearerOk(ctx: SimContext, req: FastifyRequest): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(ctx.mp.accessToken);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function requireBearer(ctx: SimContext, req: FastifyRequest): void {
  if (!bearerOk(ctx, req)) throw mpError(401, 'unauthorized', 'invalid access token', [{ code: 2, description: 'invalid access token' }]);
}

interface IdempotentRecord {
  hash: string;
  status?: number;
  body?: unknown;
}

/**
 * X-Idempotency-Key: the first answer is stored and replayed for the same key and body; the
 * same key with another body is refused.
 */
async function idempotent(
  ctx: SimContext,
  scope: string,
  req: FastifyRequest,
  run: () => Promise<{ status: number; body: unknown }>,
): Promise<{ status: number; body: unknown }> {
  const key = req.headers['x-idempotency-key'];
  if (typeof key !== 'string' || key === '') return run();
  if (key.length > 255) throw mpError(400, 'bad_request', 'X-Idempotency-Key too long', []);
  const id = `${scope}:${key}`;
  const hash = hashBody(req.body);
  if (!(await ctx.store.insert<IdempotentRecord>('mp_idempotency', id, { hash }))) {
    const prior = await ctx.store.get<IdempotentRecord>('mp_idempotency', id);
    if (prior?.hash !== hash) throw mpError(409, 'conflict', 'X-Idempotency-Key already used with different parameters', []);
    if (prior.status === undefined) throw mpError(409, 'conflict', 'A request with this X-Idempotency-Key is in progress', []);
    return { status: prior.status, body: prior.body };
  }
  let result: { status: number; body: unknown };
  try {
    result = await run();
  } catch (err) {
    const e = err as { status?: unknown; body?: unknown };
    if (typeof e.status === 'number' && e.status < 500) result = { status: e.status, body: e.body };
    else {
      await ctx.store.update<IdempotentRecord, undefined>('mp_idempotency', id, () => ({ data: { hash: 'released' }, result: undefined }));
      throw err;
    }
  }
  await ctx.store.update<IdempotentRecord, undefined>('mp_idempotency', id, () => ({ data: { hash, ...result }, result: undefined }));
  return result;
}

/** Mercado Pago Payments API routes. */
export function mpRoutes(ctx: SimContext) {
  return (app: FastifyInstance) => {
    // MP.js calls this from the browser (any shop's origin, CORS) with the public key; server
    // SDKs with the bearer token.
    app.options('/v1/card_tokens', async (_req, reply) =>
      reply
        .code(204)
        .header('access-control-allow-origin', '*')
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'content-type')
        .header('access-control-max-age', '600')
        .send(),
    );
    app.post('/v1/card_tokens', async (req, reply) => {
      void reply.header('access-control-allow-origin', '*');
      const publicKey = asBody(req.query).public_key;
      if (!bearerOk(ctx, req) && (typeof publicKey !== 'string' || publicKey === '')) {
        throw mpError(401, 'unauthorized', 'invalid public_key', []);
      }
      return reply.code(201).send(await createCardToken(ctx, req.body));
    });

    app.post('/v1/payments', async (req, reply) => {
      requireBearer(ctx, req);
      const out = await idempotent(ctx, 'payments', req, async () => ({ status: 201, body: paymentBody(ctx, await createPayment(ctx, req.body)) }));
      return reply.code(out.status).send(out.body);
    });

    app.get('/v1/payments/search', async (req) => {
      requireBearer(ctx, req);
      const q = asBody(req.query);
      const limit = Math.min(Number(q.limit ?? 30) || 30, 1000);
      const offset = Math.max(Number(q.offset ?? 0) || 0, 0);
      const all = (await ctx.store.list<MpPayment>('mp_payment', 100_000)).filter(
        (p) =>
          (typeof q.external_reference !== 'string' || p.externalReference === q.external_reference) &&
          (typeof q.status !== 'string' || p.status === q.status),
      );
      return {
        paging: { total: all.length, limit, offset },
        results: all.slice(offset, offset + limit).map((p) => paymentBody(ctx, p)),
      };
    });

    app.get<{ Params: { id: string } }>('/v1/payments/:id', async (req) => {
      requireBearer(ctx, req);
      return paymentBody(ctx, await getPayment(ctx, req.params.id));
    });

    // Cancel a pending or in_process payment: PUT {status: "cancelled"}.
    app.put<{ Params: { id: string } }>('/v1/payments/:id', async (req) => {
      requireBearer(ctx, req);
      const body = asBody(req.body);
      if (body.status !== 'cancelled') throw mpError(400, 'bad_request', 'Invalid status', [{ code: 4045, description: 'Only status cancelled can be set' }]);
      const p = await transition(ctx, req.params.id, { status: 'cancelled', detail: 'by_collector' }, (cur) =>
        cur.status === 'pending' || cur.status === 'in_process' || cur.status === 'authorized'
          ? undefined
          : `Payment in status ${cur.status} can not be cancelled`,
      );
      return paymentBody(ctx, p);
    });

    app.post<{ Params: { id: string } }>('/v1/payments/:id/refunds', async (req, reply) => {
      requireBearer(ctx, req);
      const out = await idempotent(ctx, `refunds:${req.params.id}`, req, async () => ({
        status: 201,
        body: refundBody(await refundPayment(ctx, req.params.id, req.body)),
      }));
      return reply.code(out.status).send(out.body);
    });

    app.get<{ Params: { id: string } }>('/v1/payments/:id/refunds', async (req) => {
      requireBearer(ctx, req);
      return (await getPayment(ctx, req.params.id)).refunds.map(refundBody);
    });
  };
}

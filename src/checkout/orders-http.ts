import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Customer } from '../customers/index.js';
import type { Logger } from '../platform/log.js';
import { readAfter, sendPosition, type HttpModule } from '../platform/http.js';
import { ORDER_STATUSES } from './domain/order-state.js';
import { checkoutError } from './errors.js';
import type { IdempotentHandler } from './idempotency.js';
import type { OrderQueries, OrderStatusView } from './order-queries.js';
import type { OrderService } from './order-service.js';
import type { StatusWatch } from './status-watch.js';

export interface OrderRoutesDeps {
  queries: OrderQueries;
  orders: OrderService;
  idempotent: IdempotentHandler;
  requireCustomer: (req: FastifyRequest) => Promise<Customer>;
  watch: StatusWatch;
  logger: Logger;
  /** Staff token for /admin routes (`x-admin-token`); admin routes answer 403 without one. */
  adminToken?: string | undefined;
  /** SSE safety-net poll interval (covers changes made by another process). */
  ssePollMs?: number;
}

const Headers = z.object({ authorization: z.string().optional(), 'idempotency-key': z.string().optional() }).loose();
const OrderParams = z.object({ orderId: z.uuid() });
const Status = z.enum(ORDER_STATUSES);
const Line = z.object({ sku: z.string(), name: z.string(), quantity: z.number().int(), unitPrice: z.number().int(), lineTotal: z.number().int() });
const OrderOut = z.object({
  id: z.string(), customerId: z.string(), status: Status, currency: z.literal('CLP'), subtotal: z.number().int(), shipping: z.number().int(),
  total: z.number().int(), refundedAmount: z.number().int(), paymentMethod: z.string(), paymentAttemptId: z.string().nullable(),
  delivery: z.object({
    recipientName: z.string(), street: z.string(), number: z.string(), apartment: z.string().nullable(), comuna: z.string(),
    region: z.string(), regionCode: z.string(), phone: z.string().nullable(), reference: z.string().nullable(),
  }),
  lines: z.array(Line), createdAt: z.string(), updatedAt: z.string(),
  history: z.array(z.object({ from: Status.nullable(), to: Status, reason: z.string(), at: z.string() })).optional(),
});
const OrderList = z.object({ orders: z.array(OrderOut), nextCursor: z.string().nullable() });
const StatusOut = z.object({
  orderId: z.string(), status: Status, paymentStatus: z.string().nullable(), total: z.number().int(), currency: z.string(),
  next: z.unknown(), version: z.number().int(), updatedAt: z.string(),
});
const ListQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

const etagOf = (s: OrderStatusView) => `"${s.orderId}.${s.version}"`;

/** Order history, status (poll with ETag, or SSE push), cancel; admin list, refund, fulfil. */
export function orderRoutes(deps: OrderRoutesDeps): HttpModule {
  const { queries, orders, idempotent, requireCustomer, watch } = deps;
  const adminDigest = deps.adminToken ? createHash('sha256').update(deps.adminToken).digest() : undefined;
  const requireAdmin = (req: FastifyRequest) => {
    if (!adminDigest) throw checkoutError('admin_disabled', 'admin routes are disabled (no admin token configured)');
    const given = req.headers['x-admin-token'];
    const digest = createHash('sha256').update(typeof given === 'string' ? given : '').digest();
    if (!timingSafeEqual(digest, adminDigest)) throw checkoutError('forbidden', 'a valid x-admin-token is required');
  };

  return (app) => {
    const tags = ['orders'];
    app.get('/orders', { schema: { tags, headers: Headers, querystring: z.object(ListQuery).strict(), response: { 200: OrderList } } }, async (req) => {
      const customer = await requireCustomer(req);
      return queries.listOrders({ customerId: customer.id, limit: req.query.limit, cursor: req.query.cursor });
    });

    app.get('/orders/:orderId', { schema: { tags, headers: Headers, params: OrderParams, response: { 200: OrderOut } } }, async (req) => {
      const customer = await requireCustomer(req);
      return queries.getOrder(req.params.orderId, customer.id);
    });

    app.get('/orders/:orderId/status', {
      schema: { tags, headers: Headers, params: OrderParams, response: { 200: StatusOut, 304: z.null() } },
    }, async (req, reply) => {
      const customer = await requireCustomer(req);
      // Read-your-writes: x-embudo-position carries what this client has already seen.
      const { view: status, position } = await queries.consistentStatus(req.params.orderId, customer.id, readAfter(req));
      if (position !== undefined) sendPosition(reply, position);
      const etag = etagOf(status);
      void reply.header('etag', etag).header('cache-control', 'private, no-cache');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send(null);
      return status;
    });

    app.get('/orders/:orderId/events', { schema: { tags, headers: Headers, params: OrderParams } }, async (req, reply) => {
      const customer = await requireCustomer(req);
      const orderId = req.params.orderId;
      let last = await queries.status(orderId, customer.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive',
        'x-accel-buffering': 'no', 'x-request-id': req.id,
      });
      const send = (s: OrderStatusView) => res.write(`id: ${s.version}\nevent: status\ndata: ${JSON.stringify(s)}\n\n`);
      send(last);
      // One re-read at a time; a wake-up during a read schedules exactly one more.
      let reading: Promise<void> | undefined;
      let again = false;
      const refresh = () => {
        if (reading) {
          again = true;
          return;
        }
        reading = (async () => {
          do {
            again = false;
            const now = await queries.status(orderId);
            if (now.version !== last.version) {
              last = now;
              send(now);
            }
          } while (again);
        })()
          .catch((err: unknown) => deps.logger.warn({ err, orderId }, 'order status stream refresh failed'))
          .finally(() => {
            reading = undefined;
          });
      };
      const unsubscribe = watch.subscribe(orderId, refresh);
      // A change committed between the first read and the subscription is pushed now, not at
      // the next poll (the bus's fan-out starts from its head when the first stream opens).
      refresh();
      const poll = setInterval(refresh, deps.ssePollMs ?? 2_000);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.raw.on('close', () => {
        clearInterval(poll);
        clearInterval(ping);
        unsubscribe();
      });
    });

    app.post('/orders/:orderId/cancel', { schema: { tags, headers: Headers, params: OrderParams, response: { 200: StatusOut } } }, async (req, reply) => {
      const customer = await requireCustomer(req);
      return idempotent(req, reply, `customer:${customer.id}`, async () => {
        await queries.status(req.params.orderId, customer.id); // ownership
        await orders.apply(req.params.orderId, { type: 'cancel' }, `customer:${customer.id}`);
        return { status: 200, body: await queries.status(req.params.orderId) };
      });
    });

    // ── staff ──
    const admin = ['admin'];
    app.get('/admin/orders', {
      schema: {
        tags: admin,
        querystring: z.object({
          ...ListQuery, status: Status.optional(), customerId: z.uuid().optional(), comuna: z.string().max(60).optional(),
          from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional(),
        }).strict(),
        response: { 200: OrderList },
      },
    }, async (req) => {
      requireAdmin(req);
      const q = req.query;
      return queries.listOrders({
        limit: q.limit, cursor: q.cursor, ...(q.status ? { status: q.status } : {}), ...(q.customerId ? { customerId: q.customerId } : {}),
        ...(q.comuna ? { comuna: q.comuna } : {}), ...(q.from ? { from: new Date(q.from) } : {}), ...(q.to ? { to: new Date(q.to) } : {}),
      });
    });

    app.get('/admin/orders/:orderId', { schema: { tags: admin, params: OrderParams, response: { 200: OrderOut } } }, async (req) => {
      requireAdmin(req);
      return queries.getOrder(req.params.orderId);
    });

    app.post('/admin/orders/:orderId/refunds', {
      schema: {
        tags: admin, headers: Headers, params: OrderParams,
        body: z.object({ amount: z.number().int().positive(), reason: z.string().min(1).max(200) }).strict(),
        response: { 202: z.object({ orderId: z.string(), requested: z.number().int(), refundable: z.number().int() }) },
      },
    }, async (req, reply) => {
      requireAdmin(req);
      return idempotent(req, reply, 'admin', async () => ({
        status: 202,
        body: { orderId: req.params.orderId, ...(await orders.requestRefund(req.params.orderId, req.body.amount, req.body.reason, `admin:${String(req.headers['idempotency-key'])}`)) },
      }));
    });

    app.post('/admin/orders/:orderId/fulfil', { schema: { tags: admin, headers: Headers, params: OrderParams, response: { 200: StatusOut } } }, async (req, reply) => {
      requireAdmin(req);
      return idempotent(req, reply, 'admin', async () => {
        await orders.apply(req.params.orderId, { type: 'fulfil' }, 'admin');
        return { status: 200, body: await queries.status(req.params.orderId) };
      });
    });

    app.post('/admin/orders/:orderId/cancel', { schema: { tags: admin, headers: Headers, params: OrderParams, response: { 200: StatusOut } } }, async (req, reply) => {
      requireAdmin(req);
      return idempotent(req, reply, 'admin', async () => {
        await orders.apply(req.params.orderId, { type: 'cancel' }, 'admin');
        return { status: 200, body: await queries.status(req.params.orderId) };
      });
    });
  };
}

import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { HttpModule } from '../platform/http.js';
import { ReserveInput, SkuCode } from './domain/schemas.js';
import { inventoryError } from './errors.js';
import type { Inventory, Reservation } from './index.js';

export const ReservationBody = z.object({
  id: z.string(),
  status: z.enum(['active', 'committed', 'released', 'expired']),
  expiresAt: z.string(),
  reference: z.string().optional(),
  allocations: z.array(z.object({ sku: z.string(), locationId: z.string(), quantity: z.number().int() })),
});

export const reservationBody = (r: Reservation): z.infer<typeof ReservationBody> => ({ ...r, expiresAt: r.expiresAt.toISOString() });

const SkuList = z.object({ skus: z.string().min(1).max(8000) }).strict();
const ReservationId = z.object({ id: z.string().min(1).max(100) }).strict();
const MAX_STREAM_SKUS = 200;

function parseSkus(list: string): string[] {
  const skus = [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
  const bad = skus.find((s) => !SkuCode.safeParse(s).success);
  if (skus.length === 0 || skus.length > MAX_STREAM_SKUS || bad !== undefined) {
    throw inventoryError('invalid_inventory_input', `skus must list 1 to ${MAX_STREAM_SKUS} SKU codes`, bad ? { sku: bad } : undefined);
  }
  return skus;
}

/**
 * Inventory API: availability (one-shot and live over SSE) is public; reservations (which hold
 * or sell stock) are for services and staff, behind `staffOnly` (the admin token guard).
 */
export function inventoryRoutes(inventory: Inventory, staffOnly: (req: FastifyRequest) => Promise<void>): HttpModule {
  const onRequest = staffOnly;
  return (app) => {
    const streams = new Set<ServerResponse>();
    // Open SSE responses never go idle: end them so the server can close.
    app.addHook('onClose', async () => {
      for (const res of streams) res.end();
    });

    app.get(
      '/inventory/availability',
      {
        schema: {
          tags: ['inventory'],
          querystring: SkuList,
          response: { 200: z.array(z.object({ sku: z.string(), available: z.number().int() })) },
        },
      },
      async (req) => inventory.availability(parseSkus(req.query.skus)),
    );

    app.get(
      '/inventory/availability/stream',
      {
        schema: {
          tags: ['inventory'],
          description:
            'Server-Sent Events: one `availability` event `{sku, available}` per SKU at once, then one per change.',
          querystring: SkuList,
        },
      },
      async (req, reply) => {
        const skus = parseSkus(req.query.skus);
        const last = new Map<string, number>();
        const buffered: string[] = [];
        const sink: { res?: ServerResponse } = {};
        const send = (u: { sku: string; available: number }) => {
          if (last.get(u.sku) === u.available) return;
          last.set(u.sku, u.available);
          const frame = `event: availability\ndata: ${JSON.stringify(u)}\n\n`;
          if (sink.res) sink.res.write(frame);
          else buffered.push(frame);
        };
        const unsubscribe = await inventory.feed.subscribe(skus, send);
        reply.hijack();
        const res = (sink.res = reply.raw);
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
          'x-request-id': req.id,
        });
        res.write(`retry: 2000\n\n${buffered.join('')}`);
        streams.add(res);
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
        const done = () => {
          clearInterval(heartbeat);
          unsubscribe();
          streams.delete(res);
        };
        res.on('close', done);
      },
    );

    app.post(
      '/inventory/reservations',
      { onRequest, schema: { tags: ['inventory'], body: ReserveInput, response: { 201: ReservationBody } } },
      async (req, reply) => reply.code(201).send(reservationBody(await inventory.reserve(req.body))),
    );
    app.get(
      '/inventory/reservations/:id',
      { onRequest, schema: { tags: ['inventory'], params: ReservationId, response: { 200: ReservationBody } } },
      async (req) => reservationBody(await inventory.getReservation(req.params.id)),
    );
    app.post(
      '/inventory/reservations/:id/commit',
      { onRequest, schema: { tags: ['inventory'], params: ReservationId, response: { 200: ReservationBody } } },
      async (req) => reservationBody(await inventory.commit(req.params.id)),
    );
    app.post(
      '/inventory/reservations/:id/release',
      {
        onRequest,
        schema: {
          tags: ['inventory'],
          params: ReservationId,
          body: z.object({ reason: z.string().min(1).max(500).optional() }).strict().nullish(),
          response: { 200: ReservationBody },
        },
      },
      async (req) => reservationBody(await inventory.release(req.params.id, req.body?.reason)),
    );
  };
}

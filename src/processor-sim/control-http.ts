import type { FastifyInstance } from 'fastify';
import { mpError, type SimContext } from './context.js';
import type { MpStatus } from './domain/mercadopago.js';
import { asBody } from './domain/validate.js';
import type { FaultKind } from './faults.js';
import { getPayment, paymentBody, transition } from './mercadopago.js';
import { adminPage, messagePage } from './pages.js';
import { applyScenario } from './scenario.js';
import { settlementRows, toCsv, type Discrepancy, type SettlementProcessor } from './settlements.js';
import { listDeliveries, releaseHeld } from './webhooks.js';

const FAULT_KINDS: readonly FaultKind[] = ['delay', 'timeout', 'error500', 'reset'];
const MP_STATUSES: readonly MpStatus[] = ['pending', 'approved', 'authorized', 'in_process', 'in_mediation', 'rejected', 'cancelled', 'refunded', 'charged_back'];

const invalid = (message: string) => mpError(400, 'bad_request', message, []);

function positiveInt(v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid('expected a non-negative integer');
  return v;
}

/**
 * The control API for tests and demos (not part of any processor): settle cash payments,
 * force outcomes, inject faults, steer webhooks, move the simulator's clock, see the traffic.
 */
export function controlRoutes(ctx: SimContext, hooks: { tick(): Promise<void>; advanceClock?: (ms: number) => void }) {
  return (app: FastifyInstance) => {
    app.get('/sim', async (_req, reply) => reply.type('text/html; charset=utf-8').send(adminPage(await ctx.store.recentLog(200))));
    app.get('/sim/log', async () => (await ctx.store.recentLog(500)).map((e) => ({ ...e, at: e.at.toISOString() })));
    app.get('/sim/webhooks', async () => listDeliveries(ctx, 500));
    app.post('/sim/tick', async () => {
      await hooks.tick();
      return { ok: true, now: ctx.clock.now().toISOString() };
    });
    app.post('/sim/clock/advance', async (req) => {
      const ms = positiveInt(asBody(req.body).ms, 0);
      if (!hooks.advanceClock) throw invalid('this simulator runs on a fixed clock');
      hooks.advanceClock(ms);
      await hooks.tick();
      return { now: ctx.clock.now().toISOString() };
    });

    // Mercado Pago: the shopper pays the cash ticket, it expires, or any forced outcome
    // (e.g. a late approval after a reported rejection), or a chargeback.
    app.post<{ Params: { id: string } }>('/sim/mp/payments/:id/pay', async (req) => {
      const p = await transition(ctx, req.params.id, { status: 'approved', detail: 'accredited' }, (cur) =>
        cur.status === 'pending' ? undefined : `payment is ${cur.status}, not pending`,
      );
      await hooks.tick();
      return paymentBody(ctx, p);
    });
    app.post<{ Params: { id: string } }>('/sim/mp/payments/:id/expire', async (req) => {
      const p = await transition(ctx, req.params.id, { status: 'cancelled', detail: 'expired' }, (cur) =>
        cur.status === 'pending' ? undefined : `payment is ${cur.status}, not pending`,
      );
      await hooks.tick();
      return paymentBody(ctx, p);
    });
    app.post<{ Params: { id: string } }>('/sim/mp/payments/:id/chargeback', async (req) => {
      const p = await transition(ctx, req.params.id, { status: 'charged_back', detail: 'settled' }, (cur) =>
        cur.status === 'approved' ? undefined : `payment is ${cur.status}, not approved`,
      );
      await hooks.tick();
      return paymentBody(ctx, p);
    });
    app.post<{ Params: { id: string } }>('/sim/mp/payments/:id/status', async (req) => {
      const body = asBody(req.body);
      const status = body.status as MpStatus;
      if (!MP_STATUSES.includes(status) || typeof body.status_detail !== 'string') throw invalid('status and status_detail are required');
      const p = await transition(ctx, req.params.id, { status, detail: body.status_detail }, () => undefined);
      await hooks.tick();
      return paymentBody(ctx, p);
    });
    app.get<{ Params: { id: string } }>('/sim/mp/tickets/:id', async (req, reply) => {
      const p = await getPayment(ctx, req.params.id);
      return reply
        .type('text/html; charset=utf-8')
        .send(messagePage('Cupón de pago', `Pago ${p.id} por $${p.amount.toLocaleString('es-CL')} — estado ${p.status}. Paga en caja antes de ${p.dateOfExpiration ?? '-'}.`));
    });

    // Faults on the next N processor calls.
    app.post('/sim/faults', async (req) => {
      const body = asBody(req.body);
      const kind = body.kind as FaultKind;
      if (!FAULT_KINDS.includes(kind)) throw invalid(`kind must be one of ${FAULT_KINDS.join(', ')}`);
      const rule = {
        kind,
        remaining: positiveInt(body.count, 1),
        ms: positiveInt(body.ms, kind === 'timeout' ? 30_000 : 1_000),
        ...(typeof body.path_prefix === 'string' ? { pathPrefix: body.path_prefix } : {}),
        ...(typeof body.commerce_code === 'string' ? { commerceCode: body.commerce_code } : {}),
      };
      ctx.faults.rules.push(rule);
      return { rules: ctx.faults.rules };
    });
    // Issuer declines: the next N authorizations (of one store, or any) come back -1 / FAILED.
    app.post('/sim/declines', async (req) => {
      const body = asBody(req.body);
      const rule = { remaining: positiveInt(body.count, 1), ...(typeof body.commerce_code === 'string' ? { commerceCode: body.commerce_code } : {}) };
      ctx.faults.declines.push(rule);
      return { declines: ctx.faults.declines };
    });
    app.delete('/sim/faults', async () => {
      ctx.faults.reset();
      return { rules: [] };
    });
    app.post('/sim/webhooks/faults', async (req) => {
      const body = asBody(req.body);
      const w = ctx.faults.webhooks;
      w.duplicate = positiveInt(body.duplicate, w.duplicate);
      w.reorder = positiveInt(body.reorder, w.reorder);
      w.delayMs = positiveInt(body.delay_ms, w.delayMs);
      w.delayCount = positiveInt(body.delay_count, w.delayCount);
      return w;
    });
    // Settlement files: GET /sim/settlements/transbank?date=2026-11-27 (CSV; format=json for rows).
    app.get<{ Params: { processor: string } }>('/sim/settlements/:processor', async (req, reply) => {
      const processor = req.params.processor as SettlementProcessor;
      if (processor !== 'transbank' && processor !== 'mercadopago') throw invalid('processor must be transbank or mercadopago');
      const q = asBody(req.query);
      const date = typeof q.date === 'string' ? q.date : new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Santiago' }).format(ctx.clock.now());
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw invalid('date must be YYYY-MM-DD');
      const rows = await settlementRows(ctx, processor, date);
      if (q.format === 'json') return rows;
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${processor}-settlement-${date}.csv"`)
        .send(toCsv(rows));
    });
    app.post('/sim/settlements/discrepancies', async (req) => {
      const body = asBody(req.body);
      const kinds: Discrepancy['kind'][] = ['omit', 'amount', 'duplicate', 'phantom'];
      const processor = body.processor as SettlementProcessor;
      const kind = body.kind as Discrepancy['kind'];
      if ((processor !== 'transbank' && processor !== 'mercadopago') || !kinds.includes(kind) || typeof body.reference !== 'string') {
        throw invalid('processor, kind (omit|amount|duplicate|phantom) and reference are required');
      }
      if (body.delta !== undefined && (typeof body.delta !== 'number' || !Number.isInteger(body.delta))) throw invalid('delta must be an integer');
      ctx.faults.discrepancies.push({ processor, kind, reference: body.reference, ...(typeof body.delta === 'number' ? { delta: body.delta } : {}) });
      return { discrepancies: ctx.faults.discrepancies };
    });
    app.post('/sim/scenario', async (req) => {
      const applied = applyScenario(ctx, req.body, (ms) => hooks.advanceClock?.(ms));
      await hooks.tick();
      return { applied, now: ctx.clock.now().toISOString() };
    });

    app.post('/sim/webhooks/release', async () => {
      const released = await releaseHeld(ctx);
      ctx.faults.webhooks.reorder = 0;
      await hooks.tick();
      return { released };
    });
  };
}

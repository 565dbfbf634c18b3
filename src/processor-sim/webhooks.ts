import { randomUUID } from 'node:crypto';
import type { SimContext } from './context.js';
import { signWebhook } from './domain/mercadopago.js';
import type { MpPayment } from './mercadopago.js';

export interface WebhookDelivery {
  id: string;
  notificationId: number;
  url: string;
  paymentId: number;
  action: 'payment.created' | 'payment.updated';
  createdAt: string;
  attempts: number;
  /** Held for a reorder fault until the batch is complete or released. */
  held: boolean;
  done: boolean;
  lastStatus?: number | string;
  copy?: number;
}

async function save(ctx: SimContext, d: WebhookDelivery, dueAt: Date | null): Promise<void> {
  await ctx.store.insert('webhook', d.id, d, dueAt);
}

/** Queues the notification Mercado Pago sends after a payment is created or changes. */
export async function enqueueWebhook(ctx: SimContext, p: MpPayment, action: WebhookDelivery['action']): Promise<void> {
  if (!p.notificationUrl) return;
  const now = ctx.clock.now();
  const f = ctx.faults.webhooks;
  const copies = f.duplicate > 0 ? 2 : 1;
  if (f.duplicate > 0) f.duplicate -= 1;
  let dueAt: Date | null = now;
  if (f.delayCount > 0) {
    dueAt = new Date(now.getTime() + f.delayMs);
    f.delayCount -= 1;
  }
  const held = f.reorder > 0;
  for (let copy = 0; copy < copies; copy++) {
    const d: WebhookDelivery = {
      id: randomUUID(),
      notificationId: 10_000_000_000 + Math.floor(Math.random() * 89_999_999_999),
      url: p.notificationUrl,
      paymentId: p.id,
      action,
      createdAt: now.toISOString(),
      attempts: 0,
      held,
      done: false,
      ...(copies > 1 ? { copy } : {}),
    };
    await save(ctx, d, held ? null : dueAt);
    if (held) ctx.faults.held.push(d.id);
  }
  if (held) {
    f.reorder -= 1;
    if (f.reorder === 0) await releaseHeld(ctx);
  }
  ctx.wake();
}

/** Releases held notifications in reverse order of arrival (newest first). */
export async function releaseHeld(ctx: SimContext): Promise<number> {
  const ids = ctx.faults.held.splice(0, ctx.faults.held.length).reverse();
  const base = ctx.clock.now().getTime();
  for (const [i, id] of ids.entries()) {
    await ctx.store.update<WebhookDelivery, undefined>('webhook', id, (d) =>
      d ? { data: { ...d, held: false }, dueAt: new Date(base - ids.length + i), result: undefined } : { result: undefined },
    );
  }
  ctx.wake();
  return ids.length;
}

function target(url: string, paymentId: number): string {
  const u = new URL(url);
  u.searchParams.set('data.id', String(paymentId));
  u.searchParams.set('type', 'payment');
  return u.toString();
}

/** Sends one notification; true on a 2xx answer. */
async function send(ctx: SimContext, d: WebhookDelivery): Promise<{ ok: boolean; status: number | string }> {
  const now = ctx.clock.now();
  const requestId = randomUUID();
  const ts = String(now.getTime());
  const body = {
    id: d.notificationId,
    live_mode: false,
    type: 'payment',
    date_created: d.createdAt,
    user_id: ctx.mp.userId,
    api_version: 'v1',
    action: d.action,
    data: { id: String(d.paymentId) },
  };
  try {
    const res = await fetch(target(d.url, d.paymentId), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': requestId,
        'x-signature': signWebhook(ctx.mp.webhookSecret, String(d.paymentId), requestId, ts),
        'user-agent': 'MercadoPago WebHook v1.0 payment',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ctx.settings.webhookTimeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    return { ok: res.status >= 200 && res.status < 300, status: res.status };
  } catch (err) {
    return { ok: false, status: err instanceof Error ? err.name : 'error' };
  }
}

/** Delivers every notification that is due; failures are retried with backoff for days. */
export async function deliverDue(ctx: SimContext, limit = 100): Promise<number> {
  const ids = await ctx.store.due('webhook', ctx.clock.now(), limit);
  // The log lines go out in batches (see the store): waited for once, after the deliveries.
  const logged: Promise<void>[] = [];
  for (const id of ids) {
    const d = await ctx.store.get<WebhookDelivery>('webhook', id);
    if (!d || d.done || d.held) continue;
    const result = await send(ctx, d);
    const attempts = d.attempts + 1;
    const delay = ctx.settings.webhookRetryMs[attempts - 1];
    const done = result.ok || delay === undefined;
    logged.push(ctx.store.log({
      at: ctx.clock.now(),
      direction: 'out',
      summary: `webhook ${d.action} payment ${d.paymentId} → ${d.url} (attempt ${attempts})`,
      status: typeof result.status === 'number' ? result.status : 0,
    }));
    await ctx.store.update<WebhookDelivery, undefined>('webhook', id, (cur) => ({
      data: { ...(cur ?? d), attempts, done, lastStatus: result.status },
      dueAt: done ? null : new Date(ctx.clock.now().getTime() + (delay ?? 0)),
      result: undefined,
    }));
  }
  await Promise.all(logged);
  return ids.length;
}

export async function listDeliveries(ctx: SimContext, limit: number): Promise<WebhookDelivery[]> {
  return ctx.store.list<WebhookDelivery>('webhook', limit);
}

import type { SimContext } from './context.js';
import { transition, type MpPayment } from './mercadopago.js';
import { deliverDue } from './webhooks.js';

/** Applies due Mercado Pago transitions: in_process settlements and cash expiries. */
export async function runTimers(ctx: SimContext, limit = 100): Promise<number> {
  const now = ctx.clock.now();
  const ids = await ctx.store.due('mp_payment', now, limit);
  let applied = 0;
  for (const id of ids) {
    const p = await ctx.store.get<MpPayment>('mp_payment', id);
    const next = p?.next;
    if (!next || Date.parse(next.at) > now.getTime()) continue;
    try {
      await transition(ctx, id, { status: next.status, detail: next.detail }, (cur) =>
        cur.next && cur.next.at === next.at ? undefined : 'already moved',
      );
      applied += 1;
    } catch {
      // Moved meanwhile (paid, cancelled): nothing due any more.
      await ctx.store.update<MpPayment, undefined>('mp_payment', id, (cur) => (cur ? { data: cur, dueAt: null, result: undefined } : { result: undefined }));
    }
  }
  return applied;
}

/** One pass of the simulator's clock: timers first, then the notifications they caused. */
export async function tick(ctx: SimContext): Promise<void> {
  await runTimers(ctx);
  while ((await deliverDue(ctx)) > 0) {
    // Keep going while a full batch was due.
    if ((await ctx.store.due('webhook', ctx.clock.now(), 1)).length === 0) break;
  }
}

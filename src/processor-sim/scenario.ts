// A scriptable scenario (JSON) for demos and load tests: settings, faults, webhook steering,
// settlement discrepancies and a clock jump, applied at once.
import { z } from 'zod';
import { mpError, type SimContext } from './context.js';

const nonNeg = z.number().int().min(0);

export const Scenario = z
  .object({
    name: z.string().max(200).optional(),
    settings: z
      .object({
        tokenTtlMs: nonNeg,
        formTimeoutMs: nonNeg,
        commitWindowMs: nonNeg,
        statusWindowMs: nonNeg,
        returnMethod: z.enum(['GET', 'POST']),
        oneclickDailyAmount: nonNeg,
        oneclickPerPayment: nonNeg,
        oneclickDailyCount: nonNeg,
        mpCashExpiryMs: nonNeg,
        mpInProcessMs: nonNeg,
        webhookRetryMs: z.array(nonNeg).max(50),
        webhookTimeoutMs: nonNeg,
      })
      .partial()
      .strict()
      .optional(),
    faults: z
      .array(
        z
          .object({
            kind: z.enum(['delay', 'timeout', 'error500', 'reset']),
            count: z.number().int().min(1).max(1_000_000).default(1),
            ms: nonNeg.optional(),
            path_prefix: z.string().max(200).optional(),
            commerce_code: z.string().max(12).optional(),
          })
          .strict(),
      )
      .optional(),
    declines: z.array(z.object({ commerce_code: z.string().max(12).optional(), count: z.number().int().min(1).max(1_000_000).default(1) }).strict()).optional(),
    webhooks: z.object({ duplicate: nonNeg, reorder: nonNeg, delay_ms: nonNeg, delay_count: nonNeg }).partial().strict().optional(),
    discrepancies: z
      .array(
        z
          .object({
            processor: z.enum(['transbank', 'mercadopago']),
            kind: z.enum(['omit', 'amount', 'duplicate', 'phantom']),
            reference: z.string().min(1).max(64),
            delta: z.number().int().optional(),
          })
          .strict(),
      )
      .optional(),
    advance_clock_ms: nonNeg.optional(),
  })
  .strict();

export type Scenario = z.infer<typeof Scenario>;

/** Validates and applies a scenario; bad input is refused with nothing applied. */
export function applyScenario(ctx: SimContext, raw: unknown, advanceClock: (ms: number) => void): Scenario {
  const parsed = Scenario.safeParse(raw);
  if (!parsed.success) {
    throw mpError(
      400,
      'bad_request',
      'invalid scenario',
      parsed.error.issues.map((i) => ({ code: i.code, description: `${i.path.join('.')}: ${i.message}` })),
    );
  }
  const s = parsed.data;
  if (s.settings) Object.assign(ctx.settings, s.settings);
  for (const f of s.faults ?? []) {
    ctx.faults.rules.push({
      kind: f.kind,
      remaining: f.count,
      ms: f.ms ?? (f.kind === 'timeout' ? 30_000 : 1_000),
      ...(f.path_prefix ? { pathPrefix: f.path_prefix } : {}),
      ...(f.commerce_code ? { commerceCode: f.commerce_code } : {}),
    });
  }
  for (const d of s.declines ?? []) ctx.faults.declines.push({ remaining: d.count, ...(d.commerce_code ? { commerceCode: d.commerce_code } : {}) });
  if (s.webhooks) {
    const w = ctx.faults.webhooks;
    w.duplicate = s.webhooks.duplicate ?? w.duplicate;
    w.reorder = s.webhooks.reorder ?? w.reorder;
    w.delayMs = s.webhooks.delay_ms ?? w.delayMs;
    w.delayCount = s.webhooks.delay_count ?? w.delayCount;
  }
  for (const d of s.discrepancies ?? []) ctx.faults.discrepancies.push({ processor: d.processor, kind: d.kind, reference: d.reference, ...(d.delta === undefined ? {} : { delta: d.delta }) });
  if (s.advance_clock_ms) advanceClock(s.advance_clock_ms);
  return s;
}

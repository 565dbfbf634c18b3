/** Payment methods checkout may ask for. */
export const METHODS = ['oneclick', 'webpay', 'mercadopago_card', 'mercadopago_cash'] as const;
export type Method = (typeof METHODS)[number];
export type Processor = 'transbank' | 'mercadopago';

/**
 * An attempt's state. `created`: recorded, processor not yet answered; `redirect`: the shopper
 * is at the processor's form; `unknown`: we asked and got no answer (timeout, crash);
 * `pending`: the processor says it will decide later; `review`: the janitor gave up and a
 * human must look. The last three are final.
 */
export const STATUSES = ['created', 'redirect', 'unknown', 'pending', 'review', 'approved', 'rejected', 'expired'] as const;
export type AttemptStatus = (typeof STATUSES)[number];
export type FinalStatus = 'approved' | 'rejected' | 'expired';

// An approval outranks a failure: when the processor approves an attempt it had rejected (or
// that had expired) — a payment that changed its mind, a retried authorization — the money
// was taken, so the approval is recorded after the failure and checkout settles the order
// (paid, or refunded when its stock is gone). Nothing follows an approval.
const RANK: Record<AttemptStatus, number> = {
  created: 0,
  redirect: 1,
  unknown: 2,
  pending: 3,
  review: 4,
  rejected: 5,
  expired: 5,
  approved: 6,
};

export function isFinal(status: AttemptStatus): status is FinalStatus {
  return status === 'approved' || status === 'rejected' || status === 'expired';
}

/**
 * Whether an attempt in `from` may move to `to`. Transitions only go forward, so a late
 * `pending` never overwrites `approved`, and an outcome is replaced only by a late approval
 * (rejected/expired → approved); an approval is never replaced.
 *
 * @example
 * canTransition('pending', 'approved'); // true
 * canTransition('approved', 'pending'); // false
 * canTransition('rejected', 'approved'); // true: the processor took the money after all
 * canTransition('approved', 'rejected'); // false
 */
export function canTransition(from: AttemptStatus, to: AttemptStatus): boolean {
  return RANK[to] > RANK[from];
}

/** What a processor told us about an attempt, in our terms. */
export interface ProcessorVerdict {
  status: Exclude<AttemptStatus, 'created' | 'review'>;
  /** Processor identifier (token, payment id, buy order) when it has one. */
  processorRef?: string;
  reason?: string;
  /** Non-sensitive details kept with the event (authorization code, last 4, codes). */
  data?: Record<string, unknown>;
}

/** The result of applying a verdict: what is recorded (if anything). */
export type Decision =
  | { kind: 'record'; status: AttemptStatus }
  | { kind: 'ignore'; reason: 'stale' | 'same' };

/** Decides what to do with a verdict for an attempt currently in `current`. */
export function decide(current: AttemptStatus, verdict: AttemptStatus): Decision {
  if (current === verdict) return { kind: 'ignore', reason: 'same' };
  if (!canTransition(current, verdict)) return { kind: 'ignore', reason: 'stale' };
  return { kind: 'record', status: verdict };
}

export function processorOf(method: Method): Processor {
  switch (method) {
    case 'oneclick':
    case 'webpay':
      return 'transbank';
    case 'mercadopago_card':
    case 'mercadopago_cash':
      return 'mercadopago';
  }
}

/**
 * A buy order Transbank accepts (≤ 26 chars, alphanumeric) derived from the attempt id, so
 * every attempt has its own and retries of the same attempt reuse it.
 */
export function buyOrderFor(attemptId: string): string {
  return `E${attemptId.replace(/-/g, '').slice(0, 25)}`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Janitor backoff: minutes, then hours, then daily (Kill Bill's schedule). */
export const JANITOR_BACKOFF_MS = [5 * MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY] as const;

/** The delay before the janitor's next look after `checks` looks. */
export function nextCheckDelay(checks: number): number {
  return JANITOR_BACKOFF_MS[Math.min(checks, JANITOR_BACKOFF_MS.length - 1)] ?? DAY;
}

/** How long the janitor keeps asking before flagging an attempt for review. */
export function giveUpAfterMs(processor: Processor): number {
  // Transbank answers `status` for 7 days; Mercado Pago cash stays pending for days.
  return processor === 'transbank' ? 7 * DAY : 30 * DAY;
}

import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/log.js';
import type { Faults } from './faults.js';
import type { SimStore } from './store.js';

/** Durations and limits the simulator enforces; tests shorten or lengthen them. */
export interface SimSettings {
  /** Webpay: the token must reach the payment form within this time (5 minutes). */
  tokenTtlMs: number;
  /** Webpay: time the shopper has on the form (10 minutes in integration, 4 in production). */
  formTimeoutMs: number;
  /** Webpay: after the shopper returns, the merchant must commit within this time. */
  commitWindowMs: number;
  /** Webpay/Oneclick: status answers for this long after creation (7 days). */
  statusWindowMs: number;
  /** How the shopper's browser goes back to return_url: GET (303 redirect) or POST (auto-submitted form). */
  returnMethod: 'GET' | 'POST';
  /** Oneclick limits behind response codes -97, -98 and -99. */
  oneclickDailyAmount: number;
  oneclickPerPayment: number;
  oneclickDailyCount: number;
  /** Mercado Pago: default life of a cash (ticket) payment. */
  mpCashExpiryMs: number;
  /** Mercado Pago: how long a card payment stays in_process before it settles. */
  mpInProcessMs: number;
  /** Mercado Pago webhook retry delays; delivery stops after the last one fails. */
  webhookRetryMs: number[];
  /** Timeout for one webhook delivery (Mercado Pago waits 22 s). */
  webhookTimeoutMs: number;
}

export const DEFAULT_SETTINGS: SimSettings = {
  tokenTtlMs: 5 * 60_000,
  formTimeoutMs: 10 * 60_000,
  commitWindowMs: 5 * 60_000,
  statusWindowMs: 7 * 24 * 3_600_000,
  returnMethod: 'GET',
  oneclickDailyAmount: 2_000_000,
  oneclickPerPayment: 1_000_000,
  oneclickDailyCount: 10,
  mpCashExpiryMs: 3 * 24 * 3_600_000,
  mpInProcessMs: 10_000,
  // 15 minutes apart at first, then longer, for about four days (Mercado Pago retries for days).
  webhookRetryMs: [15 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000, 4 * 3_600_000, 12 * 3_600_000, 24 * 3_600_000, 24 * 3_600_000, 24 * 3_600_000],
  webhookTimeoutMs: 22_000,
};

/** Everything the simulator's parts share. */
export interface SimContext {
  store: SimStore;
  clock: Clock;
  logger: Logger | undefined;
  settings: SimSettings;
  faults: Faults;
  /** The base URL browsers and SDKs use to reach the simulator. */
  baseUrl(): string;
  mp: { accessToken: string; webhookSecret: string; userId: number };
  /** Wakes the background loop (a webhook or timer became due). */
  wake(): void;
}

/** An HTTP error in the processor's own body shape. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body.error_message === 'string' ? body.error_message : typeof body.message === 'string' ? body.message : `HTTP ${status}`);
    this.name = 'SimHttpError';
  }
}

/** Transbank's error body: `{"error_message": "..."}`. */
export function tbkError(status: number, message: string): SimHttpError {
  return new SimHttpError(status, { error_message: message });
}

/** Mercado Pago's error body: `{message, error, status, cause: [{code, description}]}`. */
export function mpError(status: number, error: string, message: string, cause: { code: number | string; description: string }[] = []): SimHttpError {
  return new SimHttpError(status, { message, error, status, cause });
}

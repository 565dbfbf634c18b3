import type { Discrepancy } from './settlements.js';

/** What happens to the next matching calls. */
export type FaultKind = 'delay' | 'timeout' | 'error500' | 'reset';

export interface FaultRule {
  kind: FaultKind;
  /** Calls still to affect. */
  remaining: number;
  /** Only requests whose path starts with this (e.g. '/rswebpaytransaction', '/v1/payments'). */
  pathPrefix?: string;
  /** Only Transbank calls of this merchant (its Tbk-Api-Key-Id). */
  commerceCode?: string;
  /** For delay: added latency; for timeout: how long to hold before dropping the connection. */
  ms: number;
}

export interface WebhookFaults {
  /** Each of the next N notifications is sent twice. */
  duplicate: number;
  /** The next N notifications are held and then sent in reverse order. */
  reorder: number;
  /** Extra delay before the next notifications go out. */
  delayMs: number;
  delayCount: number;
}

/** Fault injection state (in memory: a restart clears it, like a test harness would want). */
export interface Faults {
  rules: FaultRule[];
  webhooks: WebhookFaults;
  /** Notifications held by a reorder fault, in arrival order. */
  held: string[];
  /** Issuer declines (response_code -1) for the next authorizations, optionally of one store. */
  declines: { commerceCode?: string; remaining: number }[];
  /** Consumes a decline for an authorization of this (child) commerce code, if one is set. */
  takeDecline(commerceCode: string): boolean;
  /** Differences injected into the settlement files. */
  discrepancies: Discrepancy[];
  /** Takes the first rule matching this path, counting it down. */
  take(path: string, commerceCode?: string): FaultRule | undefined;
  reset(): void;
}

export function createFaults(): Faults {
  const faults: Faults = {
    rules: [],
    webhooks: { duplicate: 0, reorder: 0, delayMs: 0, delayCount: 0 },
    held: [],
    declines: [],
    discrepancies: [],
    takeDecline(commerceCode) {
      const rule = faults.declines.find((d) => d.remaining > 0 && (d.commerceCode === undefined || d.commerceCode === commerceCode));
      if (!rule) return false;
      rule.remaining -= 1;
      faults.declines = faults.declines.filter((d) => d.remaining > 0);
      return true;
    },
    take(path, commerceCode) {
      const rule = faults.rules.find(
        (r) =>
          r.remaining > 0 &&
          (r.pathPrefix === undefined || path.startsWith(r.pathPrefix)) &&
          (r.commerceCode === undefined || r.commerceCode === commerceCode),
      );
      if (!rule) return undefined;
      rule.remaining -= 1;
      faults.rules = faults.rules.filter((r) => r.remaining > 0);
      return { ...rule };
    },
    reset() {
      faults.rules = [];
      faults.webhooks = { duplicate: 0, reorder: 0, delayMs: 0, delayCount: 0 };
      faults.discrepancies = [];
      faults.declines = [];
    },
  };
  return faults;
}

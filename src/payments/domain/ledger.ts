/** Ledger accounts. Debits are positive, credits negative. */
export type Account =
  | `processor_clearing:${string}`
  | 'sales_revenue'
  | 'refunds'
  | 'processor_fees'
  | 'chargebacks'
  | 'bank';

export interface Entry {
  account: Account;
  amount: number;
}

export interface Posting {
  kind: 'payment_captured' | 'refund' | 'processor_fee' | 'chargeback' | 'payout';
  entries: Entry[];
}

/** True when entries sum to zero and there are at least two of them, all integers. */
export function balances(entries: readonly Entry[]): boolean {
  return (
    entries.length >= 2 &&
    entries.every((e) => Number.isSafeInteger(e.amount) && e.amount !== 0) &&
    entries.reduce((s, e) => s + e.amount, 0) === 0
  );
}

const clearing = (processor: string): Account => `processor_clearing:${processor}`;

/**
 * The balanced postings for the money movements payments knows about.
 *
 * @example
 * capturePosting('transbank', 1000).entries; // [{clearing +1000}, {sales_revenue -1000}]
 */
export function capturePosting(processor: string, amount: number): Posting {
  return {
    kind: 'payment_captured',
    entries: [
      { account: clearing(processor), amount },
      { account: 'sales_revenue', amount: -amount },
    ],
  };
}

export function refundPosting(processor: string, amount: number): Posting {
  return {
    kind: 'refund',
    entries: [
      { account: 'refunds', amount },
      { account: clearing(processor), amount: -amount },
    ],
  };
}

export function feePosting(processor: string, amount: number): Posting {
  return {
    kind: 'processor_fee',
    entries: [
      { account: 'processor_fees', amount },
      { account: clearing(processor), amount: -amount },
    ],
  };
}

export function payoutPosting(processor: string, amount: number): Posting {
  return {
    kind: 'payout',
    entries: [
      { account: 'bank', amount },
      { account: clearing(processor), amount: -amount },
    ],
  };
}

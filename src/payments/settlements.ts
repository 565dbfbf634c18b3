import { appendEvents, type NewEvent } from '../events/index.js';
import { isUuid, type Db } from '../platform/db.js';
import type { Posting } from './domain/ledger.js';
import { feePosting, payoutPosting } from './domain/ledger.js';
import { parseSettlementCsv, type SettlementLine } from './domain/settlement.js';
import { transaction, type Core } from './core.js';
import { paymentsError } from './errors.js';
import { paymentsEvent } from './events.js';
import * as store from './store.js';
import type { AttemptState } from './store.js';

export interface Reconciliation {
  imported: number;
  alreadyImported: number;
  matched: { type: string; processorRef: string; attemptId: string; amount: number }[];
  /** Settled by the processor but not approved (or not refunded) here. */
  missingHere: { type: string; processorRef: string; amount: number }[];
  amountMismatch: { type: string; processorRef: string; attemptId: string; ours: number; theirs: number }[];
  /** Approved here within the period but absent from every settlement so far. */
  missingAtProcessor: { attemptId: string; processorRef: string | null; amount: number }[];
  payouts: { payoutId: string; processor: string; net: number }[];
}


/** Finds our attempt for a report line: MP names the attempt id, Transbank the buy orders. */
async function attemptFor(db: Db, line: SettlementLine): Promise<AttemptState | undefined> {
  const ext = line.externalRef;
  if (ext && isUuid(ext)) {
    const a = await store.findAttempt(db, ext);
    if (a) return a;
  }
  if (ext) {
    const a = await store.findAttemptByBuyOrder(db, ext);
    if (a) return a;
  }
  return (
    (await store.findAttemptByRef(db, line.processor, line.processorRef)) ??
    (await store.findAttemptByBuyOrder(db, line.processorRef)) ??
    // A Mall child buy order: 'C' + the parent's ('E' + ...).
    (line.processorRef.startsWith('C') ? await store.findAttemptByBuyOrder(db, `E${line.processorRef.slice(1)}`) : undefined)
  );
}

function chargebackPosting(processor: string, amount: number): Posting {
  return {
    kind: 'chargeback',
    entries: [
      { account: 'chargebacks', amount },
      { account: `processor_clearing:${processor}`, amount: -amount },
    ],
  };
}

/** Chargebacks label the fraud decision that let the payment through (rule precision/recall). */
type ChargebackLabeler = (tx: Db, c: { attemptId: string; amount: number; settledAt: Date }) => Promise<boolean>;

/**
 * Imports a processor settlement report: records each line once, posts what the processor
 * did (fees, chargebacks, the payout it makes) to the ledger, and reconciles each line with
 * our attempts and refunds.
 */
export function createSettlements(core: Core, labelChargeback?: ChargebackLabeler) {
  return {
    async importSettlement(csv: string, period?: { from: Date; to: Date }): Promise<Reconciliation> {
      const { lines, errors } = parseSettlementCsv(csv);
      if (errors.length > 0) throw paymentsError('invalid_settlement', 'the settlement report has invalid lines', { errors: errors.slice(0, 50) });
      return transaction(core, async (tx) => {
        await store.lockKey(tx, 'settlements');
        const now = core.clock.now();
        const r: Reconciliation = { imported: 0, alreadyImported: 0, matched: [], missingHere: [], amountMismatch: [], missingAtProcessor: [], payouts: [] };
        const payouts = new Map<string, { processor: string; net: number }>();
        const postings: { posting: Posting; attemptId?: string }[] = [];
        for (const line of lines) {
          const a = await attemptFor(tx, line);
          const approved = a?.status === 'approved' ? a : undefined;
          let outcome: 'matched' | 'missing_here' | 'amount_mismatch';
          let ours = 0;
          if (!approved) outcome = 'missing_here';
          else if (line.type === 'sale') {
            ours = approved.amount;
            outcome = ours === line.amount ? 'matched' : 'amount_mismatch';
          } else if (line.type === 'refund') {
            ours = await store.succeededRefundTotal(tx, approved.id);
            outcome = ours >= -line.amount ? 'matched' : ours === 0 ? 'missing_here' : 'amount_mismatch';
          } else {
            ours = approved.amount;
            outcome = ours === -line.amount ? 'matched' : 'amount_mismatch';
          }
          const { rowCount } = await tx.query(
            `INSERT INTO payment_settlement_lines (processor, processor_ref, external_ref, line_type, payout_id, amount, fee, settled_at, attempt_id, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
            [line.processor, line.processorRef, line.externalRef ?? null, line.type, line.payoutId, line.amount, line.fee, line.settledAt, approved?.id ?? null, outcome],
          );
          if (rowCount !== 1) {
            r.alreadyImported += 1;
            continue;
          }
          r.imported += 1;
          if (line.type === 'chargeback' && approved && labelChargeback) {
            await labelChargeback(tx, { attemptId: approved.id, amount: -line.amount, settledAt: line.settledAt });
          }
          if (outcome === 'missing_here') r.missingHere.push({ type: line.type, processorRef: line.processorRef, amount: line.amount });
          else if (outcome === 'amount_mismatch' && approved) r.amountMismatch.push({ type: line.type, processorRef: line.processorRef, attemptId: approved.id, ours, theirs: line.amount });
          else if (approved) r.matched.push({ type: line.type, processorRef: line.processorRef, attemptId: approved.id, amount: line.amount });
          // The ledger records what the processor did, matched or not: fees, chargebacks, payouts.
          if (line.fee > 0) postings.push({ posting: feePosting(line.processor, line.fee), ...(approved ? { attemptId: approved.id } : {}) });
          if (line.type === 'chargeback') postings.push({ posting: chargebackPosting(line.processor, -line.amount), ...(approved ? { attemptId: approved.id } : {}) });
          const p = payouts.get(line.payoutId) ?? { processor: line.processor, net: 0 };
          // Refunds are already posted (Dr refunds / Cr clearing) when they succeed here.
          p.net += line.amount - line.fee;
          payouts.set(line.payoutId, p);
        }
        for (const [payoutId, p] of payouts) {
          r.payouts.push({ payoutId, processor: p.processor, net: p.net });
          if (p.net > 0) postings.push({ posting: payoutPosting(p.processor, p.net) });
          if (p.net < 0) postings.push({ posting: { kind: 'payout', entries: [{ account: `processor_clearing:${p.processor}`, amount: -p.net }, { account: 'bank', amount: p.net }] } });
        }
        const events: NewEvent[] = [];
        for (const { posting, attemptId } of postings) {
          const id = await store.postLedger(tx, posting, attemptId ? { attemptId } : {}, now);
          events.push(paymentsEvent('payments.ledger_posted', { type: 'ledger_transaction', id }, { transactionId: id, kind: posting.kind, ...(attemptId ? { attemptId } : {}), entries: posting.entries }));
        }
        if (period) {
          const processors = [...new Set(lines.map((l) => l.processor))];
          const { rows } = await tx.query<{ attempt_id: string; amount: number; processor_ref: string | null }>(
            `SELECT e.attempt_id, a.amount, e.processor_ref FROM payment_attempt_events e JOIN payment_attempts a ON a.id = e.attempt_id
              WHERE e.status = 'approved' AND a.processor = ANY($1) AND e.occurred_at >= $2 AND e.occurred_at < $3
                AND NOT EXISTS (SELECT 1 FROM payment_settlement_lines s WHERE s.attempt_id = e.attempt_id AND s.line_type = 'sale')
              ORDER BY e.occurred_at`,
            [processors, period.from, period.to],
          );
          r.missingAtProcessor = rows.map((x) => ({ attemptId: x.attempt_id, processorRef: x.processor_ref, amount: x.amount }));
        }
        await appendEvents(tx, events);
        return r;
      });
    },
  };
}

import { appendEvents, type NewEvent } from '../events/index.js';
import { feePosting, payoutPosting } from './domain/ledger.js';
import { parseSettlementCsv, type SettlementLine } from './domain/settlement.js';
import { transaction, type Core } from './core.js';
import { paymentsError } from './errors.js';
import { paymentsEvent } from './events.js';
import * as store from './store.js';

export interface Reconciliation {
  imported: number;
  alreadyImported: number;
  matched: { processorRef: string; attemptId: string; amount: number }[];
  /** Settled by the processor but not approved here. */
  missingHere: { processorRef: string; amount: number }[];
  amountMismatch: { processorRef: string; attemptId: string; ours: number; theirs: number }[];
  /** Approved here within the period but absent from every settlement so far. */
  missingAtProcessor: { attemptId: string; processorRef: string | null; amount: number }[];
  payouts: { payoutId: string; processor: string; net: number }[];
}

/**
 * Imports a processor settlement report: records each line once, posts fees and payouts to
 * the ledger, and reconciles against approved attempts.
 */
export function createSettlements(core: Core) {
  const findAttemptId = async (db: Parameters<typeof store.findAttempt>[0], line: SettlementLine) =>
    (await store.findAttemptByRef(db, line.processor, line.processorRef)) ?? (await store.findAttemptByBuyOrder(db, line.processorRef));

  return {
    async importSettlement(csv: string, period?: { from: Date; to: Date }): Promise<Reconciliation> {
      const { lines, errors } = parseSettlementCsv(csv);
      if (errors.length > 0) throw paymentsError('invalid_settlement', 'the settlement report has invalid lines', { errors: errors.slice(0, 50) });
      return transaction(core, async (tx) => {
        await store.lockKey(tx, 'settlements');
        const now = core.clock.now();
        const r: Reconciliation = { imported: 0, alreadyImported: 0, matched: [], missingHere: [], amountMismatch: [], missingAtProcessor: [], payouts: [] };
        const payouts = new Map<string, { processor: string; net: number }>();
        const events: NewEvent[] = [];
        for (const line of lines) {
          const a = await findAttemptId(tx, line);
          const approved = a?.status === 'approved' ? a : undefined;
          const outcome = !approved ? 'missing_here' : approved.amount === line.amount ? 'matched' : 'amount_mismatch';
          const { rowCount } = await tx.query(
            `INSERT INTO payment_settlement_lines (processor, processor_ref, payout_id, amount, fee, settled_at, attempt_id, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
            [line.processor, line.processorRef, line.payoutId, line.amount, line.fee, line.settledAt, approved?.id ?? null, outcome],
          );
          if (rowCount !== 1) {
            r.alreadyImported += 1;
            continue;
          }
          r.imported += 1;
          if (!approved) {
            r.missingHere.push({ processorRef: line.processorRef, amount: line.amount });
            continue;
          }
          if (outcome === 'amount_mismatch') {
            r.amountMismatch.push({ processorRef: line.processorRef, attemptId: approved.id, ours: approved.amount, theirs: line.amount });
            continue;
          }
          r.matched.push({ processorRef: line.processorRef, attemptId: approved.id, amount: line.amount });
          if (line.fee > 0) {
            const posting = feePosting(line.processor, line.fee);
            const id = await store.postLedger(tx, posting, { attemptId: approved.id }, now);
            events.push(paymentsEvent('payments.ledger_posted', { type: 'ledger_transaction', id }, { transactionId: id, kind: posting.kind, attemptId: approved.id, entries: posting.entries }));
          }
          const p = payouts.get(line.payoutId) ?? { processor: line.processor, net: 0 };
          p.net += line.amount - line.fee;
          payouts.set(line.payoutId, p);
        }
        for (const [payoutId, p] of payouts) {
          if (p.net <= 0) continue;
          const posting = payoutPosting(p.processor, p.net);
          const id = await store.postLedger(tx, posting, {}, now);
          events.push(paymentsEvent('payments.ledger_posted', { type: 'ledger_transaction', id }, { transactionId: id, kind: posting.kind, entries: posting.entries }));
          r.payouts.push({ payoutId, processor: p.processor, net: p.net });
        }
        if (period) {
          const processors = [...new Set(lines.map((l) => l.processor))];
          const { rows } = await tx.query<{ attempt_id: string; amount: number; processor_ref: string | null }>(
            `SELECT e.attempt_id, a.amount, e.processor_ref FROM payment_attempt_events e JOIN payment_attempts a ON a.id = e.attempt_id
              WHERE e.status = 'approved' AND a.processor = ANY($1) AND e.occurred_at >= $2 AND e.occurred_at < $3
                AND NOT EXISTS (SELECT 1 FROM payment_settlement_lines s WHERE s.attempt_id = e.attempt_id)
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

import type { Processor } from './attempt.js';

/** One line of a processor's settlement report. */
export interface SettlementLine {
  processor: Processor;
  /** Token, payment id or buy order, as the processor reports it. */
  processorRef: string;
  amount: number;
  fee: number;
  payoutId: string;
  settledAt: Date;
}

export const SETTLEMENT_COLUMNS = ['processor', 'processor_ref', 'amount', 'fee', 'payout_id', 'settled_at'] as const;

/**
 * Parses a settlement report (CSV with a header naming at least SETTLEMENT_COLUMNS, comma
 * separated, no quoted commas). Bad lines are reported by number, never half-imported.
 *
 * @example
 * parseSettlementCsv('processor,processor_ref,amount,fee,payout_id,settled_at\ntransbank,Pabc,1000,20,P1,2026-11-28');
 */
export function parseSettlementCsv(text: string): { lines: SettlementLine[]; errors: { line: number; message: string }[] } {
  const rows = text.split(/\r?\n/).filter((r) => r.trim() !== '');
  const errors: { line: number; message: string }[] = [];
  const header = (rows[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const missing = SETTLEMENT_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) return { lines: [], errors: [{ line: 1, message: `missing columns: ${missing.join(', ')}` }] };
  const col = (cells: string[], name: (typeof SETTLEMENT_COLUMNS)[number]) => (cells[header.indexOf(name)] ?? '').trim().replace(/^"(.*)"$/, '$1');
  const lines: SettlementLine[] = [];
  rows.slice(1).forEach((row, i) => {
    const n = i + 2;
    const cells = row.split(',');
    const processor = col(cells, 'processor');
    const amount = Number(col(cells, 'amount'));
    const fee = Number(col(cells, 'fee') || '0');
    const settledAt = new Date(col(cells, 'settled_at'));
    const processorRef = col(cells, 'processor_ref');
    const payoutId = col(cells, 'payout_id');
    if (processor !== 'transbank' && processor !== 'mercadopago') return errors.push({ line: n, message: `unknown processor "${processor}"` });
    if (!processorRef || processorRef.length > 128) return errors.push({ line: n, message: 'processor_ref is required' });
    if (!payoutId || payoutId.length > 128) return errors.push({ line: n, message: 'payout_id is required' });
    if (!Number.isSafeInteger(amount) || amount <= 0) return errors.push({ line: n, message: 'amount must be a positive integer' });
    if (!Number.isSafeInteger(fee) || fee < 0 || fee > amount) return errors.push({ line: n, message: 'fee must be an integer between 0 and amount' });
    if (Number.isNaN(settledAt.getTime())) return errors.push({ line: n, message: 'settled_at must be a date' });
    lines.push({ processor, processorRef, amount, fee, payoutId, settledAt });
    return undefined;
  });
  return { lines, errors };
}

import type { Processor } from './attempt.js';

/** One line of a processor's settlement (liquidation) report. */
export interface SettlementLine {
  processor: Processor;
  type: 'sale' | 'refund' | 'chargeback';
  /** The processor's reference: buy order (Transbank) or payment id (Mercado Pago). */
  processorRef: string;
  /** Parent buy order (Transbank) or our external_reference (MP: the attempt id). */
  externalRef?: string | undefined;
  /** Signed gross: sales positive, refunds and chargebacks negative. */
  amount: number;
  fee: number;
  payoutId: string;
  settledAt: Date;
}

/** The processors' report layout (the simulator's liquidation files use it). */
export const REPORT_COLUMNS = ['date', 'processor', 'reference', 'type', 'gross', 'fee', 'payout_date'] as const;

/**
 * Parses a settlement report: CSV with a header naming at least REPORT_COLUMNS
 * (`external_reference`, `commerce_code`, `net` optional), comma separated, no quoted commas.
 * Bad lines are reported by number; nothing is half-imported.
 *
 * @example
 * parseSettlementCsv('date,processor,reference,type,gross,fee,payout_date\n2026-11-27,transbank,Eab,sale,1000,30,2026-12-01');
 */
export function parseSettlementCsv(text: string): { lines: SettlementLine[]; errors: { line: number; message: string }[] } {
  const rows = text.split(/\r?\n/).filter((r) => r.trim() !== '');
  const errors: { line: number; message: string }[] = [];
  const header = (rows[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const missing = REPORT_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) return { lines: [], errors: [{ line: 1, message: `missing columns: ${missing.join(', ')}` }] };
  const col = (cells: string[], name: string) => (header.includes(name) ? (cells[header.indexOf(name)] ?? '').trim().replace(/^"(.*)"$/, '$1') : '');
  const lines: SettlementLine[] = [];
  rows.slice(1).forEach((row, i) => {
    const n = i + 2;
    const cells = row.split(',');
    const processor = col(cells, 'processor');
    const type = col(cells, 'type');
    const amount = Number(col(cells, 'gross'));
    const fee = Number(col(cells, 'fee') || '0');
    const settledAt = new Date(col(cells, 'date'));
    const processorRef = col(cells, 'reference');
    const payoutDate = col(cells, 'payout_date');
    const externalRef = col(cells, 'external_reference') || undefined;
    if (processor !== 'transbank' && processor !== 'mercadopago') return errors.push({ line: n, message: `unknown processor "${processor}"` });
    if (type !== 'sale' && type !== 'refund' && type !== 'chargeback') return errors.push({ line: n, message: `unknown type "${type}"` });
    if (!processorRef || processorRef.length > 128) return errors.push({ line: n, message: 'reference is required' });
    if (!/^\d{4}-\d{2}-\d{2}$/.test(payoutDate)) return errors.push({ line: n, message: 'payout_date must be YYYY-MM-DD' });
    if (!Number.isSafeInteger(amount) || amount === 0 || (type === 'sale') !== amount > 0) {
      return errors.push({ line: n, message: 'gross must be a non-zero integer, positive for sales and negative otherwise' });
    }
    if (!Number.isSafeInteger(fee) || fee < 0 || fee > Math.abs(amount)) return errors.push({ line: n, message: 'fee must be an integer between 0 and |gross|' });
    if (Number.isNaN(settledAt.getTime())) return errors.push({ line: n, message: 'date must be a date' });
    lines.push({ processor, type, processorRef, externalRef, amount, fee, payoutId: `${processor}:${payoutDate}`, settledAt });
    return undefined;
  });
  return { lines, errors };
}

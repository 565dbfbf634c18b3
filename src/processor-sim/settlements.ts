// Daily settlement (liquidation) files, the input of the earnings reconciliation: one CSV row
// per money movement of the day with gross, fee, net and payout date, like a processor's
// liquidation report. Fee rates and payout delays are the simulator's own (documented below),
// and discrepancies can be injected to exercise the reconciliation.
import type { SimContext } from './context.js';
import { chileDay } from './domain/transbank.js';
import { fee as mpFee, type MpPayment } from './mercadopago.js';
import type { OneclickTx } from './oneclick.js';
import type { WebpayTx } from './webpay.js';

export type SettlementProcessor = 'transbank' | 'mercadopago';

export interface SettlementRow {
  date: string;
  processor: SettlementProcessor;
  commerce_code: string;
  reference: string;
  external_reference: string;
  type: 'sale' | 'refund' | 'chargeback';
  gross: number;
  fee: number;
  net: number;
  payout_date: string;
}

/** An injected difference between what happened and what the file says. */
export interface Discrepancy {
  processor: SettlementProcessor;
  kind: 'omit' | 'amount' | 'duplicate' | 'phantom';
  /** The row's reference (buy order or payment id); phantom rows use it as their own. */
  reference: string;
  /** For amount: added to the gross; for phantom: the gross of the invented row. */
  delta?: number;
}

// Transbank: credit (VN) 2.95%, debit (VD) 1.49%, prepaid (VP) 1.99%; paid 2 business days later.
const TBK_RATE: Record<string, number> = { VN: 0.0295, VD: 0.0149, VP: 0.0199 };
// Mercado Pago: released 4 days after approval (see fee() for the rate).
const MP_PAYOUT_DAYS = 4;

function addDays(day: string, days: number, businessOnly: boolean): string {
  const d = new Date(`${day}T12:00:00Z`);
  let left = days;
  while (left > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    const wd = d.getUTCDay();
    if (!businessOnly || (wd !== 0 && wd !== 6)) left -= 1;
  }
  return d.toISOString().slice(0, 10);
}

function tbkRows(day: string, created: string, lines: WebpayTx['lines'], externalRef: string): SettlementRow[] {
  const rows: SettlementRow[] = [];
  for (const l of lines) {
    if (!l.approved) continue;
    const rate = TBK_RATE[l.paymentTypeCode] ?? 0.0295;
    const payout = addDays(day, 2, true);
    if (chileDay(new Date(created)) === day && !l.refunds.some((r) => r.type === 'REVERSED')) {
      const gross = l.deferred ? (l.capturedAmount ?? 0) : l.amount;
      if (gross > 0) {
        const f = Math.round(gross * rate);
        rows.push({ date: day, processor: 'transbank', commerce_code: l.commerceCode, reference: l.buyOrder, external_reference: externalRef, type: 'sale', gross, fee: f, net: gross - f, payout_date: payout });
      }
    }
    for (const r of l.refunds) {
      if (r.type !== 'NULLIFIED' || chileDay(new Date(r.at)) !== day) continue;
      rows.push({ date: day, processor: 'transbank', commerce_code: l.commerceCode, reference: l.buyOrder, external_reference: externalRef, type: 'refund', gross: -r.amount, fee: 0, net: -r.amount, payout_date: payout });
    }
  }
  return rows;
}

function mpRows(ctx: SimContext, day: string, p: MpPayment): SettlementRow[] {
  const rows: SettlementRow[] = [];
  const payout = addDays(day, MP_PAYOUT_DAYS, false);
  const ref = String(p.id);
  const ext = p.externalReference ?? '';
  const code = String(ctx.mp.userId);
  if (p.approvedAt && chileDay(new Date(p.approvedAt)) === day) {
    const f = mpFee(p.amount);
    rows.push({ date: day, processor: 'mercadopago', commerce_code: code, reference: ref, external_reference: ext, type: 'sale', gross: p.amount, fee: f, net: p.amount - f, payout_date: payout });
  }
  for (const r of p.refunds) {
    if (chileDay(new Date(r.date_created)) !== day) continue;
    rows.push({ date: day, processor: 'mercadopago', commerce_code: code, reference: ref, external_reference: ext, type: 'refund', gross: -r.amount, fee: 0, net: -r.amount, payout_date: payout });
  }
  if (p.status === 'charged_back' && chileDay(new Date(p.updatedAt)) === day) {
    rows.push({ date: day, processor: 'mercadopago', commerce_code: code, reference: ref, external_reference: ext, type: 'chargeback', gross: -p.amount, fee: 0, net: -p.amount, payout_date: payout });
  }
  return rows;
}

/** The settlement rows of one Chile calendar day (YYYY-MM-DD), discrepancies applied. */
export async function settlementRows(ctx: SimContext, processor: SettlementProcessor, day: string): Promise<SettlementRow[]> {
  let rows: SettlementRow[] = [];
  if (processor === 'transbank') {
    for (const tx of await ctx.store.list<WebpayTx>('webpay', 1_000_000)) {
      if (tx.phase === 'committed') rows.push(...tbkRows(day, tx.committedAt ?? tx.createdAt, tx.lines, tx.buyOrder));
    }
    for (const tx of await ctx.store.list<OneclickTx>('oneclick', 1_000_000)) rows.push(...tbkRows(day, tx.createdAt, tx.lines, tx.buyOrder));
  } else {
    for (const p of await ctx.store.list<MpPayment>('mp_payment', 1_000_000)) rows.push(...mpRows(ctx, day, p));
  }
  for (const d of ctx.faults.discrepancies.filter((x) => x.processor === processor)) {
    switch (d.kind) {
      case 'omit':
        rows = rows.filter((r) => r.reference !== d.reference);
        break;
      case 'amount':
        rows = rows.map((r) => (r.reference === d.reference && r.type === 'sale' ? { ...r, gross: r.gross + (d.delta ?? 1), net: r.net + (d.delta ?? 1) } : r));
        break;
      case 'duplicate':
        rows = rows.flatMap((r) => (r.reference === d.reference && r.type === 'sale' ? [r, r] : [r]));
        break;
      case 'phantom': {
        const gross = d.delta ?? 1000;
        rows.push({ date: day, processor, commerce_code: '', reference: d.reference, external_reference: '', type: 'sale', gross, fee: 0, net: gross, payout_date: day });
        break;
      }
    }
  }
  return rows.sort((a, b) => a.reference.localeCompare(b.reference) || a.type.localeCompare(b.type));
}

const COLUMNS: (keyof SettlementRow)[] = ['date', 'processor', 'commerce_code', 'reference', 'external_reference', 'type', 'gross', 'fee', 'net', 'payout_date'];

function cell(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: SettlementRow[]): string {
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

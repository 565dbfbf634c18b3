/** A cart line priced from the catalog. */
export interface PricedLine {
  sku: string;
  name: string;
  quantity: number;
  unitPrice: number;
  lineTotal: number;
}

export interface Totals {
  subtotal: number;
  shipping: number;
  total: number;
  currency: 'CLP';
}

// Flat delivery fees in CLP by región CUT code; free above the threshold.
const SHIPPING_RM = 3_990;
const SHIPPING_OTHER = 5_990;
const SHIPPING_FAR = 9_990; // Aysén, Magallanes and the islands' regions
const FAR_REGIONS = new Set(['11', '12']);
export const FREE_SHIPPING_FROM = 49_990;

/** The delivery fee for a subtotal sent to a región (undefined región: not yet chosen → 0). */
export function shippingFee(subtotal: number, regionCode: string | undefined): number {
  if (regionCode === undefined || subtotal >= FREE_SHIPPING_FROM) return 0;
  if (regionCode === '13') return SHIPPING_RM;
  return FAR_REGIONS.has(regionCode) ? SHIPPING_FAR : SHIPPING_OTHER;
}

/** Prices lines (integers only: CLP has no minor unit) and totals them. */
export function priceLines(lines: { sku: string; name: string; quantity: number; unitPrice: number }[], regionCode?: string): { lines: PricedLine[]; totals: Totals } {
  const priced = lines.map((l) => {
    if (!Number.isSafeInteger(l.unitPrice) || l.unitPrice < 0) throw new RangeError(`bad price for ${l.sku}`);
    if (!Number.isSafeInteger(l.quantity) || l.quantity <= 0) throw new RangeError(`bad quantity for ${l.sku}`);
    return { ...l, lineTotal: l.unitPrice * l.quantity };
  });
  const subtotal = priced.reduce((sum, l) => sum + l.lineTotal, 0);
  const shipping = shippingFee(subtotal, regionCode);
  return { lines: priced, totals: { subtotal, shipping, total: subtotal + shipping, currency: 'CLP' } };
}

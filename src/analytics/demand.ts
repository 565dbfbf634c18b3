/**
 * Daily demand per SKU and location, from the warehouse's stock movements: a sale takes units
 * off hand and out of reserved in one step (a committed reservation), so each change where
 * on hand and reserved fall by the same amount is units sold. Receipts, releases, expiries,
 * adjustments and transfers are not demand.
 */

/** One SKU-location's daily units sold, every day of the range (zeros included), oldest first. */
export interface DemandSeries {
  sku: string;
  locationId: string;
  days: { date: string; units: number }[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The warehouse query for [from, to) (YYYY-MM-DD, UTC days). */
export function demandSql(from: string, to: string, skus?: readonly string[]): string {
  if (!DATE.test(from) || !DATE.test(to)) throw new RangeError('from and to must be YYYY-MM-DD');
  const only = skus && skus.length > 0 ? `AND sku IN (${skus.map(quote).join(', ')})` : '';
  return `
    WITH steps AS (
      SELECT sku, location_id, date_key,
             on_hand - lag(on_hand) OVER w AS d_on_hand, reserved - lag(reserved) OVER w AS d_reserved
        FROM fact_stock_movement WHERE sku IS NOT NULL ${only}
      WINDOW w AS (PARTITION BY sku, location_id ORDER BY occurred_at, seq))
    SELECT sku, location_id, strftime(date_key, '%Y-%m-%d') AS day, sum(-d_on_hand)::BIGINT AS units
      FROM steps
     WHERE d_on_hand < 0 AND d_reserved = d_on_hand AND date_key >= DATE ${quote(from)} AND date_key < DATE ${quote(to)}
     GROUP BY ALL ORDER BY sku, location_id, day`;
}

/** The first day each SKU-location had any stock movement: its demand history starts there. */
export function firstDaySql(skus?: readonly string[]): string {
  const only = skus && skus.length > 0 ? `AND sku IN (${skus.map(quote).join(', ')})` : '';
  return `SELECT sku, location_id, strftime(min(date_key), '%Y-%m-%d') AS first_day FROM fact_stock_movement
           WHERE sku IS NOT NULL ${only} GROUP BY ALL`;
}

/**
 * Every SKU-location seen (with sales in the range, or listed in `also`), zero-filled per day
 * from the later of `from` and its first movement (days before it existed are not zero demand).
 */
export function fillSeries(
  rows: readonly { sku: unknown; location_id: unknown; day: unknown; units: unknown }[],
  from: string,
  to: string,
  also: readonly { sku: string; locationId: string }[] = [],
  firstDays: readonly { sku: unknown; location_id: unknown; first_day: unknown }[] = [],
): DemandSeries[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t < Date.parse(`${to}T00:00:00Z`); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const first = new Map(firstDays.map((f) => [`${String(f.sku)}\u0000${String(f.location_id)}`, String(f.first_day)]));
  const by = new Map<string, { sku: string; locationId: string; units: Map<string, number> }>();
  const key = (sku: string, loc: string) => `${sku}\u0000${loc}`;
  for (const a of also) by.set(key(a.sku, a.locationId), { sku: a.sku, locationId: a.locationId, units: new Map() });
  for (const r of rows) {
    const k = key(String(r.sku), String(r.location_id));
    const s = by.get(k) ?? { sku: String(r.sku), locationId: String(r.location_id), units: new Map<string, number>() };
    s.units.set(String(r.day), Number(r.units));
    by.set(k, s);
  }
  return [...by.values()].map((s) => {
    const since = first.get(key(s.sku, s.locationId)) ?? from;
    return { sku: s.sku, locationId: s.locationId, days: days.filter((d) => d >= since).map((date) => ({ date, units: s.units.get(date) ?? 0 })) };
  });
}

/**
 * Replenishment arithmetic, pure: demand statistics from a daily sales series (moving average,
 * standard deviation, weekly seasonality), the reorder point (demand during the lead time +
 * z·σ·√lead time) and the order quantity (EOQ or min/max, then supplier minimum and pack size).
 */

/** Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError('p must be in (0, 1)');
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

export interface DemandStats {
  /** Moving average of daily units over the window. */
  mean: number;
  /** Standard deviation of daily units around the seasonal forecast (sample, n − 1). */
  stdDev: number;
  /** Multiplier per ISO weekday (index 1 = Monday … 7 = Sunday; index 0 unused), mean 1. */
  seasonality: number[];
  days: number;
}

/**
 * Statistics of the last `window` days of a daily series (oldest first; `dates` as YYYY-MM-DD).
 * Weekly seasonality needs at least two full weeks of data, else every weekday weighs 1.
 *
 * @example
 * demandStats([4, 4, 4, 4], ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04'])
 * // → { mean: 4, stdDev: 0, seasonality: [1, 1, 1, 1, 1, 1, 1, 1], days: 4 }
 */
export function demandStats(units: number[], dates: string[], window = 28): DemandStats {
  const n = Math.min(window, units.length);
  const xs = units.slice(units.length - n);
  const ds = dates.slice(dates.length - n).map(isoWeekday);
  const mean = n > 0 ? xs.reduce((a, b) => a + b, 0) / n : 0;
  const seasonality = Array.from({ length: 8 }, () => 1);
  if (n >= 14 && mean > 0) {
    for (let dow = 1; dow <= 7; dow++) {
      const same = xs.filter((_, i) => ds[i] === dow);
      if (same.length > 0) seasonality[dow] = same.reduce((a, b) => a + b, 0) / same.length / mean;
    }
    // Normalise so a full week still sums to 7 × mean.
    const avg = seasonality.slice(1).reduce((a, b) => a + b, 0) / 7;
    if (avg > 0) for (let dow = 1; dow <= 7; dow++) seasonality[dow] = (seasonality[dow] ?? 1) / avg;
  }
  const residuals = xs.map((x, i) => x - mean * (seasonality[ds[i] ?? 1] ?? 1));
  const stdDev = n > 1 ? Math.sqrt(residuals.reduce((a, r) => a + r * r, 0) / (n - 1)) : 0;
  return { mean, stdDev, seasonality, days: n };
}

/** ISO weekday of a YYYY-MM-DD date: 1 = Monday … 7 = Sunday. */
export function isoWeekday(date: string): number {
  const d = new Date(`${date}T00:00:00Z`).getUTCDay();
  return d === 0 ? 7 : d;
}

/** Expected units over the `leadTimeDays` days after `today` (seasonal, partial last day). */
export function demandOverLeadTime(stats: Pick<DemandStats, 'mean' | 'seasonality'>, today: string, leadTimeDays: number): number {
  let total = 0;
  const start = new Date(`${today}T00:00:00Z`).getTime();
  for (let i = 0; i < Math.ceil(leadTimeDays); i++) {
    const day = new Date(start + (i + 1) * 86_400_000).toISOString().slice(0, 10);
    const weight = Math.min(1, leadTimeDays - i);
    total += stats.mean * (stats.seasonality[isoWeekday(day)] ?? 1) * weight;
  }
  return total;
}

export interface ReplenishmentPolicy {
  method: 'eoq' | 'minmax';
  /** Target probability of not running out during a lead time (e.g. 0.95). */
  serviceLevel: number;
  leadTimeDays: number;
  /** EOQ: cost of placing one order (CLP) and yearly holding cost as a fraction of unit cost. */
  orderCost: number;
  unitCost: number;
  holdingRate: number;
  /** Min/max: order up to this position. */
  maxQty: number | null;
  /** Supplier constraints. */
  minOrderQty: number;
  packSize: number;
}

export interface ReorderPlan {
  dailyDemand: number;
  demandStdDev: number;
  leadTimeDemand: number;
  safetyStock: number;
  reorderPoint: number;
  /** Units to order now (0 when the position is above the reorder point). */
  orderQuantity: number;
  /** Before supplier minimum and pack rounding. */
  rawQuantity: number;
  eoq: number | null;
  z: number;
}

/**
 * The reorder decision for one SKU-location.
 *
 * `position` = available + units on open purchase orders. Order when position ≤ reorder point
 * (and there is demand): EOQ = √(2·D·S / H) with D = yearly demand, S = order cost, H = unit
 * cost × holding rate (at least enough to lift the position above the reorder point), or
 * min/max: up to `maxQty`. Then the supplier minimum, then whole packs.
 *
 * @example
 * // 10/day, σ 3, 4 days lead, 95 %: ROP = 40 + 1.645·3·2 = 49.87 → 50
 * planReorder({ mean: 10, stdDev: 3, seasonality: [] }, '2026-12-01', 20, policy)
 */
export function planReorder(
  stats: Pick<DemandStats, 'mean' | 'stdDev' | 'seasonality'>,
  today: string,
  position: number,
  policy: ReplenishmentPolicy,
): ReorderPlan {
  const z = normalQuantile(policy.serviceLevel);
  const leadTimeDemand = demandOverLeadTime(stats, today, policy.leadTimeDays);
  const safetyStock = Math.max(0, z * stats.stdDev * Math.sqrt(policy.leadTimeDays));
  const reorderPoint = Math.ceil(leadTimeDemand + safetyStock - 1e-9);
  const yearly = stats.mean * 365;
  const holding = policy.unitCost * policy.holdingRate;
  const eoq = yearly > 0 && holding > 0 && policy.orderCost > 0 ? Math.sqrt((2 * yearly * policy.orderCost) / holding) : null;
  let rawQuantity = 0;
  if (stats.mean > 0 && position <= reorderPoint) {
    rawQuantity = policy.method === 'minmax'
      ? Math.max(0, (policy.maxQty ?? reorderPoint) - position)
      : Math.max(Math.ceil((eoq ?? 0) - 1e-9), reorderPoint - position + 1);
  }
  let orderQuantity = rawQuantity;
  if (orderQuantity > 0) {
    orderQuantity = Math.max(orderQuantity, policy.minOrderQty);
    const pack = Math.max(1, policy.packSize);
    orderQuantity = Math.ceil(orderQuantity / pack) * pack;
  }
  return {
    dailyDemand: stats.mean, demandStdDev: stats.stdDev, leadTimeDemand, safetyStock, reorderPoint,
    orderQuantity, rawQuantity, eoq, z,
  };
}

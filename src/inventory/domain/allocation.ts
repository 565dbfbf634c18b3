/**
 * Allocation of reservation lines over locations: pure, deterministic, all or nothing.
 *
 * Strategy (documented contract):
 * 1. Candidate locations for a SKU are ordered by `priority` ascending, then `locationId`.
 *    A line that names a `locationId` moves that location to the front ("prefer"); if the
 *    SKU has no stock row there, the line is served from the others in the usual order.
 * 2. If one location can serve the whole line, the first such location in that order takes
 *    it (no split, fewer parcels).
 * 3. Otherwise the line is split greedily over the locations in that order.
 * 4. Lines of one reservation are applied in order against the levels left by the previous
 *    lines; if any line cannot be served, nothing of the reservation is applied.
 */

export interface LevelState {
  sku: string;
  locationId: string;
  priority: number;
  onHand: number;
  reserved: number;
}

export interface RequestLine {
  sku: string;
  quantity: number;
  locationId?: string;
}

export interface Allocation {
  sku: string;
  locationId: string;
  quantity: number;
}

export type AllocationResult =
  | { ok: true; allocations: Allocation[] }
  | { ok: false; reason: 'unknown_sku'; sku: string }
  | { ok: false; reason: 'insufficient_stock'; sku: string; requested: number; available: number };

/** Levels of one batch, keyed by SKU, each list in allocation order. Mutated as lines apply. */
export type LevelBook = Map<string, LevelState[]>;

export function levelBook(levels: readonly LevelState[]): LevelBook {
  const book: LevelBook = new Map();
  for (const l of levels) {
    const list = book.get(l.sku);
    if (list) list.push(l);
    else book.set(l.sku, [l]);
  }
  for (const list of book.values()) list.sort(byAllocationOrder);
  return book;
}

export function byAllocationOrder(a: LevelState, b: LevelState): number {
  return a.priority - b.priority || (a.locationId < b.locationId ? -1 : a.locationId > b.locationId ? 1 : 0);
}

const available = (l: LevelState) => l.onHand - l.reserved;

/**
 * Allocates every line of one reservation against `book`; on success the reserved amounts in
 * `book` are increased (so the next reservation of the batch sees them), on failure `book`
 * is left untouched.
 */
export function allocate(book: LevelBook, lines: readonly RequestLine[]): AllocationResult {
  const planned: { level: LevelState; quantity: number }[] = [];
  const taken = new Map<LevelState, number>();
  const free = (l: LevelState) => available(l) - (taken.get(l) ?? 0);
  for (const line of lines) {
    const levels = book.get(line.sku);
    if (!levels || levels.length === 0) return { ok: false, reason: 'unknown_sku', sku: line.sku };
    let order = levels;
    const preferred = line.locationId === undefined ? undefined : levels.find((l) => l.locationId === line.locationId);
    if (preferred) order = [preferred, ...levels.filter((l) => l !== preferred)];
    const whole = order.find((l) => free(l) >= line.quantity);
    if (whole) {
      planned.push({ level: whole, quantity: line.quantity });
      taken.set(whole, (taken.get(whole) ?? 0) + line.quantity);
      continue;
    }
    const total = order.reduce((sum, l) => sum + Math.max(0, free(l)), 0);
    if (total < line.quantity) {
      return { ok: false, reason: 'insufficient_stock', sku: line.sku, requested: line.quantity, available: total };
    }
    let left = line.quantity;
    for (const l of order) {
      const q = Math.min(left, free(l));
      if (q <= 0) continue;
      planned.push({ level: l, quantity: q });
      taken.set(l, (taken.get(l) ?? 0) + q);
      left -= q;
      if (left === 0) break;
    }
  }
  for (const p of planned) p.level.reserved += p.quantity;
  // Two lines of the same SKU landing on one location stay two allocations: each is a line.
  return { ok: true, allocations: planned.map((p) => ({ sku: p.level.sku, locationId: p.level.locationId, quantity: p.quantity })) };
}

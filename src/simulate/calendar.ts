/**
 * When Chileans shop: a daily curve (evening peak, quiet nights), a weekly one, and the year's
 * peaks — CyberDay (June), CyberMonday Chile (October), Black Friday and the Christmas run-up.
 * `intensity(t)` is the load at instant t relative to an ordinary weekday average (1.0).
 */

/** Chile mainland is UTC−3 in summer and UTC−4 in winter (first Sunday of April → of September). */
function localOffsetHours(t: Date): number {
  const m = t.getUTCMonth();
  return m >= 3 && m <= 7 ? -4 : -3;
}

/** Relative sessions per local hour (0..23), averaging 1.0. */
const HOURLY = normalise([0.35, 0.2, 0.12, 0.08, 0.06, 0.08, 0.15, 0.3, 0.55, 0.8, 1.0, 1.1, 1.25, 1.2, 1.1, 1.1, 1.15, 1.25, 1.35, 1.5, 1.75, 1.85, 1.5, 0.85]);
/** Sunday..Saturday. */
const WEEKDAY = [1.1, 1.08, 1.0, 1.0, 0.98, 0.95, 0.85];

function normalise(xs: number[]): number[] {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return xs.map((x) => x / mean);
}

/** The n-th (1-based) given weekday (0 = Sunday) of a month, UTC date. */
function nthWeekday(year: number, month: number, weekday: number, n: number): Date {
  const first = new Date(Date.UTC(year, month, 1));
  const offset = (weekday - first.getUTCDay() + 7) % 7;
  return new Date(Date.UTC(year, month, 1 + offset + (n - 1) * 7));
}

export interface Peak {
  name: 'cyberday' | 'cybermonday' | 'black_friday' | 'christmas';
  from: Date;
  /** Exclusive. */
  to: Date;
  factor: number;
}

/** The year's commercial peaks (local dates, treated as UTC days shifted by the offset). */
export function peaksOf(year: number): Peak[] {
  const day = 86_400_000;
  const cyber = nthWeekday(year, 5, 1, 1); // first Monday of June, three days
  const cyberMonday = nthWeekday(year, 9, 1, 1); // first Monday of October, three days
  const blackFriday = nthWeekday(year, 10, 5, 4); // fourth Friday of November, through Sunday
  return [
    { name: 'cyberday', from: cyber, to: new Date(cyber.getTime() + 3 * day), factor: 5 },
    { name: 'cybermonday', from: cyberMonday, to: new Date(cyberMonday.getTime() + 3 * day), factor: 3 },
    { name: 'black_friday', from: blackFriday, to: new Date(blackFriday.getTime() + 3 * day), factor: 4 },
    { name: 'christmas', from: new Date(Date.UTC(year, 11, 10)), to: new Date(Date.UTC(year, 11, 25)), factor: 2.5 },
  ];
}

export interface Moment {
  intensity: number;
  peak: Peak['name'] | null;
}

/** Load at instant t relative to an ordinary day's average. */
export function momentAt(t: Date): Moment {
  const local = new Date(t.getTime() + localOffsetHours(t) * 3_600_000);
  const hour = local.getUTCHours();
  const base = (HOURLY[hour] ?? 1) * (WEEKDAY[local.getUTCDay()] ?? 1);
  const dayStart = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  for (const p of peaksOf(local.getUTCFullYear())) {
    if (dayStart >= p.from.getTime() && dayStart < p.to.getTime()) {
      // Christmas ramps up towards the 24th; the others are flat peaks (the first day strongest).
      const factor = p.name === 'christmas'
        ? 1 + (p.factor - 1) * ((dayStart - p.from.getTime()) / (p.to.getTime() - p.from.getTime()))
        : dayStart === p.from.getTime() ? p.factor : 1 + (p.factor - 1) * 0.7;
      return { intensity: base * factor, peak: p.name };
    }
  }
  // A quiet Christmas Day and New Year's Day.
  const md = `${local.getUTCMonth() + 1}-${local.getUTCDate()}`;
  if (md === '12-25' || md === '1-1') return { intensity: base * 0.35, peak: null };
  return { intensity: base, peak: null };
}

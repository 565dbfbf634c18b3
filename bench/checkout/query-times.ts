import pg from 'pg';

/**
 * BENCH_QUERY_TIMES=1: every query of the bench process timed by its SQL (first 70 characters),
 * from the call to its answer (the wait in the connection's own queue included), so a
 * checkout's time can be split into the statements it waits for. Reset at the timed phase.
 */
export function queryTimes(): { reset(): void; per(n: number): Record<string, { per_checkout: number; mean_ms: number; total_ms_per_checkout: number }> } {
  const by = new Map<string, { n: number; ms: number }>();
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const c = args[0];
    const text = (typeof c === 'string' ? c : (c as { text?: string } | undefined)?.text ?? '?').replace(/\s+/g, ' ').slice(0, 70);
    const t0 = performance.now();
    const out = original.apply(this, args);
    if (out && typeof (out as Promise<unknown>).then === 'function') {
      (out as Promise<unknown>).then(() => {
        const e = by.get(text) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += performance.now() - t0;
        by.set(text, e);
      }, () => undefined);
    }
    return out;
  };
  return {
    reset: () => by.clear(),
    per: (n) => Object.fromEntries([...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30).map(([k, v]) => [k, {
      per_checkout: Number((v.n / Math.max(1, n)).toFixed(2)), mean_ms: Number((v.ms / v.n).toFixed(2)), total_ms_per_checkout: Number((v.ms / Math.max(1, n)).toFixed(2)),
    }])),
  };
}

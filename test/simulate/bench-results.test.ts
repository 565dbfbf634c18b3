import assert from 'node:assert/strict';
import test from 'node:test';
import { markdown, rowsOf } from '../../bench/run.js';

test('bench results: each figure against its target, with its same-run baseline', () => {
  const rows = rowsOf('startup', { ready_ms: 2500, rss_mb: 450, baseline_cli_ms: 300, mode: 'embedded' }, {
    ready_ms: { target: 3000, better: 'lower', unit: 'ms', baseline: 'baseline_cli_ms' },
    rss_mb: { target: 400, better: 'lower', unit: 'MB' },
  });
  const by = new Map(rows.map((r) => [r.figure, r]));
  assert.equal(by.get('ready_ms')?.met, true);
  assert.deepEqual(by.get('ready_ms')?.baseline, { figure: 'baseline_cli_ms', value: 300 });
  assert.equal(by.get('rss_mb')?.met, false);
  assert.equal(by.get('mode')?.met, null);
  // Without targets, a figure named like a baseline is the others' reference.
  const plain = rowsOf('events', { relay_per_s: 9000, pgbench_baseline_per_s: 12000 });
  assert.deepEqual(plain[0]?.baseline, { figure: 'pgbench_baseline_per_s', value: 12000 });
  const md = markdown(rows, { date: 'now', cpus: 2, node: 'v20', loadBefore: [1], loadAfter: [2] });
  assert.match(md, /\| startup \| ready_ms \| 2500 ms \| ≤ 3000 \| yes \| baseline_cli_ms = 300 \|/);
  assert.match(md, /\| startup \| rss_mb \| 450 MB \| ≤ 400 \| \*\*no\*\* \|/);

  // Nested scenarios are figures of their own, with their targets and same-run baselines.
  const nested = rowsOf('inventory', { hot: { ratio: 8, p99_ms: 76, pgbench_tps: 188 } }, {
    'hot.ratio': { target: 5, better: 'higher', baseline: 'hot.pgbench_tps' },
    'hot.p99_ms': { target: 50, better: 'lower', unit: 'ms' },
  });
  const byNested = new Map(nested.map((r) => [r.figure, r]));
  assert.equal(byNested.get('hot.ratio')?.met, true);
  assert.deepEqual(byNested.get('hot.ratio')?.baseline, { figure: 'hot.pgbench_tps', value: 188 });
  assert.equal(byNested.get('hot.p99_ms')?.met, false);
});

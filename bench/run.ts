import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** What a figure should be: at most / at least `target`, compared with a baseline figure of the same run. */
export interface FigureTarget {
  target?: number;
  /** 'lower': the figure must be ≤ target; 'higher': ≥ target. */
  better: 'lower' | 'higher';
  unit?: string;
  /** Name of the figure (of the same benchmark) measured as this one's baseline in the same run. */
  baseline?: string;
  note?: string;
}

/**
 * A benchmark: `bench/<name>.bench.ts` exporting `run()`, which returns its figures, and
 * optionally `targets` describing them. The runner prints the final JSON line
 * `{"bench":"<name>", ...figures}` and, for the whole set, writes a Markdown table and a JSON
 * file under bench/results/ with each figure, its target and its baseline.
 */
export interface Benchmark {
  run(): Promise<Record<string, unknown>>;
  targets?: Record<string, FigureTarget>;
}

export interface ResultRow {
  bench: string;
  figure: string;
  value: unknown;
  unit: string | null;
  target: number | null;
  better: 'lower' | 'higher' | null;
  /** true/false against the target; null when there is none (or the value is not a number). */
  met: boolean | null;
  baseline: { figure: string; value: unknown } | null;
  note: string | null;
}

const DIR = path.dirname(fileURLToPath(import.meta.url));

export function benchmarkNames(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.replace(/\.bench\.ts$/, ''))
    .sort();
}

/**
 * Figures one level deep as rows of their own: `{hot: {ratio: 8}}` → `hot.ratio` (benchmarks
 * whose issue prescribes nested scenarios keep that shape on their JSON line).
 */
function flatten(figures: Record<string, unknown>): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(figures)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x !== 'object' || x === null)) {
      for (const [k2, v2] of Object.entries(v)) flat[`${k}.${k2}`] = v2;
    } else flat[k] = v;
  }
  return flat;
}

/** The rows of one benchmark's figures against its targets (pure; exported for tests). */
export function rowsOf(bench: string, nested: Record<string, unknown>, targets: Record<string, FigureTarget> = {}): ResultRow[] {
  const figures = flatten(nested);
  // Without targets, a figure named like a baseline is the reference for the others.
  const implicit = Object.keys(figures).find((k) => /baseline|pgbench/.test(k));
  return Object.entries(figures).map(([figure, value]) => {
    const t = targets[figure];
    const baselineName = t?.baseline ?? (implicit && implicit !== figure && !targets[figure] ? implicit : undefined);
    const met = t?.target === undefined || typeof value !== 'number' ? null : t.better === 'lower' ? value <= t.target : value >= t.target;
    return {
      bench, figure, value,
      unit: t?.unit ?? null,
      target: t?.target ?? null,
      better: t?.better ?? null,
      met,
      baseline: baselineName !== undefined ? { figure: baselineName, value: figures[baselineName] } : null,
      note: t?.note ?? null,
    };
  });
}

/** The Markdown table of a run. */
export function markdown(rows: ResultRow[], meta: Record<string, unknown>): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v)).replace(/\|/g, '\\|');
  const lines = [
    `# Benchmarks ${String(meta.date)}`,
    '',
    `Machine: ${String(meta.cpus)} CPUs, load average before ${cell(meta.loadBefore)}, after ${cell(meta.loadAfter)}; Node ${String(meta.node)}.`,
    '',
    '| bench | figure | value | target | met | baseline (same run) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.bench} | ${r.figure} | ${cell(r.value)}${r.unit ? ` ${r.unit}` : ''} | ${r.target === null ? '—' : `${r.better === 'lower' ? '≤' : '≥'} ${r.target}`} | ${r.met === null ? '—' : r.met ? 'yes' : '**no**'} | ${r.baseline ? `${r.baseline.figure} = ${cell(r.baseline.value)}` : '—'} |`),
    '',
  ];
  return lines.join('\n');
}

/** Runs the named benchmarks (all when none named); returns a process exit code. */
export async function runBenchmarks(names: string[]): Promise<number> {
  const known = benchmarkNames();
  const selected = names.length > 0 ? names : known;
  const unknown = selected.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${known.join(', ') || '(none yet)'}\n`);
    return 2;
  }
  if (selected.length === 0) {
    process.stdout.write('no benchmarks defined yet\n');
    return 0;
  }
  const loadBefore = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const rows: ResultRow[] = [];
  let failed = 0;
  for (const name of selected) {
    const mod = (await import(pathToFileURL(path.join(DIR, `${name}.bench.ts`)).href)) as Benchmark;
    let figures: Record<string, unknown>;
    try {
      figures = await mod.run();
    } catch (err) {
      // One broken benchmark must not hide the others' figures.
      if (names.length > 0) throw err;
      failed++;
      figures = { error: err instanceof Error ? err.message.slice(0, 200) : String(err) };
    }
    process.stdout.write(`${JSON.stringify({ bench: name, ...figures })}\n`);
    rows.push(...rowsOf(name, figures, mod.targets));
  }
  const date = new Date().toISOString();
  const meta = { date, node: process.version, cpus: os.availableParallelism(), loadBefore, loadAfter: os.loadavg().map((l) => Math.round(l * 100) / 100), benches: selected };
  const dir = path.join(DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `${names.length === 0 ? 'all' : selected.join('+')}-${date.slice(0, 16).replace(/:/g, '-')}`);
  writeFileSync(`${stem}.json`, `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
  writeFileSync(`${stem}.md`, markdown(rows, meta));
  // stderr: the last stdout line stays the last benchmark's JSON figures.
  process.stderr.write(`results: ${path.relative(process.cwd(), stem)}.{md,json}\n`);
  return failed > 0 ? 1 : 0;
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  runBenchmarks(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

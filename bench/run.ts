import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * A benchmark: `bench/<name>.bench.ts` exporting `run()`, which returns its figures. The
 * runner prints them as the final JSON line `{"bench":"<name>", ...figures}`.
 */
export interface Benchmark {
  run(): Promise<Record<string, unknown>>;
}

const DIR = path.dirname(fileURLToPath(import.meta.url));

export function benchmarkNames(): string[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.replace(/\.bench\.ts$/, ''))
    .sort();
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
  for (const name of selected) {
    const mod = (await import(pathToFileURL(path.join(DIR, `${name}.bench.ts`)).href)) as Benchmark;
    const figures = await mod.run();
    process.stdout.write(`${JSON.stringify({ bench: name, ...figures })}\n`);
  }
  return 0;
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

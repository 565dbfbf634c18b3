#!/usr/bin/env node
// Runs the TypeScript sources: compiled once and cached (bin/compiled.js) where it can be,
// else directly through tsx. `bench` always runs through tsx (it loads .bench.ts files itself).
import { loadCompiledCli } from './compiled.js';

const argv = process.argv.slice(2);
const cli = (argv[0] !== 'bench' && (await loadCompiledCli())) || (await viaTsx());
cli.main(argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

async function viaTsx() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/main/cli.ts');
}

// bin/embudo.js runs the CLI compiled once into .build/ (bin/compiled.js): an edited source must
// be what the next run executes, and a source that does not compile falls back to tsx.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

// A scratch checkout: its own sources and .build, the real node_modules.
const scratch = mkdtempSync(path.join(os.tmpdir(), 'embudo-compiled-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
for (const d of ['bin', 'src']) cpSync(path.join(ROOT, d), path.join(scratch, d), { recursive: true });
cpSync(path.join(ROOT, 'package.json'), path.join(scratch, 'package.json'));
symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'));
const help = async () => (await run(process.execPath, [path.join(scratch, 'bin/embudo.js'), 'help'], { cwd: scratch })).stdout;
const cli = path.join(scratch, 'src/main/cli.ts');

test('the compiled CLI is built on first run, rebuilt when a source changes, and tsx runs what it cannot compile', async () => {
  assert.match(await help(), /^embudo — retail commerce data platform/);
  const manifest = JSON.parse(readFileSync(path.join(scratch, '.build/current.json'), 'utf8')) as { id: string; inputs: [string][] };
  assert.ok(existsSync(path.join(scratch, '.build', manifest.id, 'cli.js')));
  assert.ok(manifest.inputs.some(([rel]) => rel === path.join('src', 'main', 'cli.ts')));

  // Old builds go after a day; the other caches in .build stay.
  const old = new Date(Date.now() - 3 * 24 * 3600_000);
  mkdirSync(path.join(scratch, '.build/pg-templates'));
  utimesSync(path.join(scratch, '.build/pg-templates'), old, old);
  utimesSync(path.join(scratch, '.build', manifest.id), old, old);

  writeFileSync(cli, readFileSync(cli, 'utf8').replace('embudo — retail commerce data platform', 'embudo — edited'));
  assert.match(await help(), /^embudo — edited/);
  const rebuilt = JSON.parse(readFileSync(path.join(scratch, '.build/current.json'), 'utf8')) as { id: string };
  assert.notEqual(rebuilt.id, manifest.id);
  assert.equal(existsSync(path.join(scratch, '.build', manifest.id)), false, 'the old build is removed');
  assert.ok(existsSync(path.join(scratch, '.build/pg-templates')), 'other caches are not');

  // Sources stay where they were: import.meta names the .ts file, not the chunk.
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `
    const { loadCompiledCli } = await import(${JSON.stringify(path.join(scratch, 'bin/compiled.js'))});
    await loadCompiledCli();
    const dir = ${JSON.stringify(path.join(scratch, '.build', rebuilt.id))};
    const { readdirSync, readFileSync } = await import('node:fs');
    const text = readdirSync(dir).map((f) => readFileSync(dir + '/' + f, 'utf8')).join('');
    process.stdout.write(String(text.includes(${JSON.stringify(path.join(scratch, 'src/storefront'))}) && !text.includes('import.meta.dirname')));
  `]);
  assert.equal(stdout, 'true');

  // esbuild rejects it: tsx runs it (and reports the same error).
  writeFileSync(cli, `${readFileSync(cli, 'utf8')}\nconst = ;\n`);
  await assert.rejects(help(), (err: { stderr?: string }) => /Expected identifier|Transform failed|SyntaxError/.test(err.stderr ?? ''));
});

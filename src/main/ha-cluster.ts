import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../platform/embedded-postgres.js';
import { cloneWithBackupApi, cloneWithBasebackup, type ServerUser } from './ha-clone.js';

/**
 * A primary and its standbys on loopback, for `embudo ha-lab` and the HA tests: real
 * PostgreSQL servers with streaming replication. It prefers a full PostgreSQL installation
 * (Debian's `postgresql` package: pg_basebackup clones the standbys); without one it uses the
 * embedded-postgres binaries (initdb and postgres only) and clones with the low-level backup
 * API instead.
 */

export interface StandbySpec {
  name: string;
  /** Listed in the primary's `synchronous_standby_names` (durable commits wait for it). */
  sync: boolean;
  /** `recovery_min_apply_delay`: makes a deliberately lagging replica. */
  applyDelayMs?: number;
}

export interface HaClusterOptions {
  /** Directory for every server's data (created; emptied first when `fresh`). */
  dir: string;
  standbys?: StandbySpec[];
  /** fsync off: only for tests that kill processes, never the machine. */
  fast?: boolean;
  database?: string;
  /** `auto` (default): the installed PostgreSQL when there is one, else the embedded binaries. */
  binaries?: 'auto' | 'installed' | 'embedded';
}

export interface HaNode {
  name: string;
  port: number;
  dataDir: string;
  /** Connection string for this server alone. */
  url: string;
  pid(): number | undefined;
  running(): boolean;
  /** kill -9 of the postmaster (its backends exit when they see it gone). */
  kill(): Promise<void>;
  /** Fast shutdown. */
  stop(): Promise<void>;
  /** Turns a standby into a primary (`pg_promote()`), waiting until it accepts writes. */
  promote(): Promise<void>;
}

export interface HaCluster {
  primary: HaNode;
  standbys: HaNode[];
  /** Primary then synchronous standbys, `target_session_attrs=read-write` (the DATABASE_URL to use). */
  url: string;
  /** Single-host URLs of the asynchronous standbys (DATABASE_REPLICA_URLS). */
  replicaUrls: string[];
  binDir: string;
  /** Where the binaries came from: a PostgreSQL installation or the embedded-postgres package. */
  source: 'installed' | 'embedded';
  stop(): Promise<void>;
}

/** The directory holding initdb, pg_basebackup and postgres, or undefined when not installed. */
export function findPostgresBinDir(): string | undefined {
  const has = (dir: string) => ['initdb', 'pg_basebackup', 'postgres'].every((b) => existsSync(path.join(dir, b)));
  if (process.env.PG_BINDIR && has(process.env.PG_BINDIR)) return process.env.PG_BINDIR;
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (has(dir)) return dir;
  } catch {
    // no pg_config on PATH
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && Number(v) >= 15)
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin')).find(has);
}

/** The embedded-postgres package's initdb/postgres directory, when installed for this platform. */
export function embeddedBinDir(): string | undefined {
  try {
    const entry = fileURLToPath(import.meta.resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
    const dir = path.resolve(path.dirname(entry), '..', 'native', 'bin');
    return existsSync(path.join(dir, 'postgres')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** True when servers can be started here: not root, or root with a `postgres` OS user. */
export function canRunServers(): boolean {
  try {
    serverUser();
    return true;
  } catch {
    return false;
  }
}

/** As root the servers run as `postgres`, which must be able to reach their directory. */
function assertTraversable(dir: string): void {
  for (let d = dir; existsSync(d); d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new Error(`the "postgres" OS user cannot enter ${d}: choose another --dir (e.g. under /tmp) or chmod o+x ${d}`);
    }
    if (path.dirname(d) === d) return;
  }
}

/** PostgreSQL refuses to run as root: then every server runs as the `postgres` OS user. */
function serverUser(): ServerUser | undefined {
  if (os.userInfo().uid !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (!uid || !gid) throw new Error('running as root needs a "postgres" OS user to run PostgreSQL (apt-get install postgresql creates it)');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a primary and its standbys (streaming replication, a physical slot each). The first
 * synchronous standby is the failover target; `url` lists primary and sync standbys.
 *
 * @example
 * const cluster = await startHaCluster({ dir: '/tmp/ha', standbys: [{ name: 'standby1', sync: true }] });
 * process.env.DATABASE_URL = cluster.url;
 */
export async function startHaCluster(options: HaClusterOptions): Promise<HaCluster> {
  const choice = options.binaries ?? 'auto';
  const installed = choice === 'embedded' ? undefined : findPostgresBinDir();
  const binDir = installed ?? (choice === 'installed' ? undefined : embeddedBinDir());
  if (!binDir) throw new Error('PostgreSQL server binaries not found (install the postgresql package, or set PG_BINDIR)');
  const source = installed ? 'installed' : 'embedded';
  const user = serverUser();
  const database = options.database ?? 'embudo';
  const specs = options.standbys ?? [{ name: 'standby1', sync: true }];
  const password = randomBytes(12).toString('base64url');
  const dir = path.resolve(options.dir);
  if (user) assertTraversable(path.dirname(dir));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (user) chownSync(dir, user.uid, user.gid);
  const asServer = { ...(user ?? {}), env: { ...process.env, PGPASSWORD: password } };
  const bin = (name: string) => path.join(binDir, name);

  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);

  const primaryDir = path.join(dir, 'primary');
  execFileSync(
    bin('initdb'),
    ['-D', primaryDir, '-U', 'postgres', '-E', 'UTF8', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync'],
    { ...asServer, stdio: 'ignore' },
  );
  const syncNames = specs.filter((s) => s.sync).map((s) => s.name);
  const common = [
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'max_connections=100',
    'shared_buffers=32MB',
    'wal_level=replica',
    'max_wal_senders=10',
    'max_replication_slots=10',
    'hot_standby=on',
    'hot_standby_feedback=on',
    // Only transactions that ask for it (durable: synchronous_commit=remote_apply) wait.
    'synchronous_commit=local',
    `fsync=${options.fast ? 'off' : 'on'}`,
  ];
  const urlOf = (port: number) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
  const nodes: HaNode[] = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  };

  try {
    const primary = await startNode({
      name: 'primary',
      dataDir: primaryDir,
      bin,
      asServer,
      settings: [...common, ...(syncNames.length > 0 ? [`synchronous_standby_names=FIRST 1 (${syncNames.join(', ')})`] : [])],
      urlOf,
    });
    nodes.push(primary);
    const adminUrl = urlOf(primary.port).replace(/\/[^/]*$/, '/postgres');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();

    for (const spec of specs) {
      const dataDir = path.join(dir, spec.name);
      const clone = {
        primaryAdminUrl: adminUrl,
        primaryPort: primary.port,
        primaryDir,
        dataDir,
        slot: spec.name,
        bin,
        asServer,
      };
      if (source === 'installed') cloneWithBasebackup(clone);
      else await cloneWithBackupApi(clone, user);
      // Name the standby so the primary's synchronous_standby_names can list it.
      appendFileSync(
        path.join(dataDir, 'postgresql.auto.conf'),
        `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=postgres password=${password} application_name=${spec.name}'\n` +
          `primary_slot_name = '${spec.name}'\n`,
      );
      const node = await startNode({
        name: spec.name,
        dataDir,
        bin,
        asServer,
        settings: [...common, ...(spec.applyDelayMs ? [`recovery_min_apply_delay=${spec.applyDelayMs}ms`] : [])],
        urlOf,
      });
      nodes.push(node);
    }
    await waitForReplication(primary.url, specs);

    const sync = nodes.filter((n) => syncNames.includes(n.name));
    const hosts = [primary, ...sync].map((n) => `127.0.0.1:${n.port}`).join(',');
    return {
      primary,
      standbys: nodes.slice(1),
      url: `postgres://postgres:${password}@${hosts}/${database}?target_session_attrs=read-write`,
      replicaUrls: nodes.slice(1).filter((n) => !syncNames.includes(n.name)).map((n) => n.url),
      binDir,
      source,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface NodeSpec {
  name: string;
  dataDir: string;
  bin: (name: string) => string;
  asServer: { uid?: number; gid?: number; env: NodeJS.ProcessEnv };
  settings: string[];
  urlOf: (port: number) => string;
}

async function startNode(spec: NodeSpec): Promise<HaNode> {
  const port = await freePort();
  const logFile = path.join(path.dirname(spec.dataDir), `${spec.name}.log`);
  const log = openSync(logFile, 'a');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const url = spec.urlOf(port);

  const launch = async () => {
    const args = ['-D', spec.dataDir, '-p', String(port), ...spec.settings.flatMap((s) => ['-c', s])];
    const proc = spawn(spec.bin('postgres'), args, { ...spec.asServer, stdio: ['ignore', log, log] });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await waitUntilAccepting(url.replace(/\/[^/]*$/, '/postgres'), proc, logFile);
  };
  await launch();

  const node: HaNode = {
    name: spec.name,
    port,
    dataDir: spec.dataDir,
    url,
    pid: () => child?.pid,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async kill() {
      if (!node.running()) return;
      child?.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!node.running()) return;
      child?.kill('SIGINT');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async promote() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('SELECT pg_promote(true, 30)');
      } finally {
        await client.end();
      }
    },
  };
  return node;
}

async function waitUntilAccepting(url: string, proc: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`PostgreSQL exited at start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections in 30 s: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Waits until every standby streams from the primary (and the sync ones are `sync`/`potential`). */
async function waitForReplication(primaryUrl: string, specs: StandbySpec[]): Promise<void> {
  const client = new pg.Client({ connectionString: primaryUrl });
  await client.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await client.query<{ application_name: string; state: string }>(
        `SELECT application_name, state FROM pg_stat_replication`,
      );
      const streaming = new Set(rows.filter((r) => r.state === 'streaming').map((r) => r.application_name));
      if (specs.every((s) => streaming.has(s.name))) return;
      if (Date.now() > deadline) throw new Error(`standbys not streaming after 30 s: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await client.end();
  }
}

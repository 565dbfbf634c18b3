import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './db.js';

export interface Migration {
  /** `<context>/<file>`, e.g. `inventory/2026-11-28-0001-stock.sql`. */
  id: string;
  sql: string;
  checksum: string;
}

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FILE = /^\d{4}-\d{2}-\d{2}-\d{4}-[a-z0-9-]+\.sql$/;
// Any constant works; every process that migrates must use the same one.
const LOCK_KEY = 0x656d6275; // "embu"

/**
 * Every context's frozen migrations (`src/<context>/migrations/*.sql`), in date order.
 * Files are plain SQL and never import application code.
 */
export function discoverMigrations(srcDir: string = SRC): Migration[] {
  const found: Migration[] = [];
  for (const context of readdirSync(srcDir)) {
    const dir = path.join(srcDir, context, 'migrations');
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.sql')) continue;
      if (!FILE.test(file)) {
        throw new Error(`migration ${context}/${file} must be named YYYY-MM-DD-NNNN-name.sql`);
      }
      const sql = readFileSync(path.join(dir, file), 'utf8');
      found.push({
        id: `${context}/${file}`,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      });
    }
  }
  // Date order first so a later migration of one context can rely on an earlier one of
  // the same context; ties broken by context name for a stable order.
  return found.sort((a, b) => {
    const fa = a.id.split('/')[1] ?? '';
    const fb = b.id.split('/')[1] ?? '';
    return fa === fb ? a.id.localeCompare(b.id) : fa.localeCompare(fb);
  });
}

// The files this process ships with, read once: /readyz asks on every probe.
let shipped: Migration[] | undefined;

export interface MigrateResult {
  applied: string[];
  skipped: number;
}

/**
 * Applies pending migrations, together in one transaction, under an advisory lock so
 * several processes may start together. Re-running is a no-op; a frozen migration whose
 * text changed after it was applied stops the run; a failing one rolls back the whole run
 * and is named.
 */
export async function migrate(
  db: Database,
  migrations: Migration[] = (shipped ??= discoverMigrations()),
): Promise<MigrateResult> {
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS platform_migrations (
        id text PRIMARY KEY,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ id: string; checksum: string }>(
        'SELECT id, checksum FROM platform_migrations',
      );
      const done = new Map(rows.map((r) => [r.id, r.checksum]));
      const pending: Migration[] = [];
      for (const m of migrations) {
        const prior = done.get(m.id);
        if (prior === undefined) pending.push(m);
        else if (prior !== m.checksum) {
          throw new Error(`migration ${m.id} changed after it was applied; add a new migration instead`);
        }
      }
      // Every pending migration in one transaction: all or none of them apply, and a first
      // start commits once instead of once per file.
      const applied = pending.map((m) => m.id);
      if (pending.length > 0) {
        await client.query('BEGIN');
        try {
          for (const m of pending) {
            try {
              await client.query(m.sql);
            } catch (err) {
              throw new Error(`migration ${m.id} failed: ${err instanceof Error ? err.message : String(err)}`);
            }
          }
          await client.query('INSERT INTO platform_migrations (id, checksum) SELECT * FROM unnest($1::text[], $2::text[])', [
            applied,
            pending.map((m) => m.checksum),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
      return { applied, skipped: migrations.length - applied.length };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/**
 * Names the set of migrations this process ships with (their ids and checksums): equal keys,
 * equal schemas. The embedded mode's cluster template is built once per key.
 */
export function migrationsKey(migrations: Migration[] = (shipped ??= discoverMigrations())): string {
  const hash = createHash('sha256');
  for (const m of migrations) hash.update(`${m.id}\0${m.checksum}\n`);
  return hash.digest('hex');
}

/** True when every known migration has been applied (used by /readyz). */
export async function migrationsDone(
  db: Database,
  migrations: Migration[] = (shipped ??= discoverMigrations()),
): Promise<boolean> {
  try {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM platform_migrations');
    const done = new Set(rows.map((r) => r.id));
    return migrations.every((m) => done.has(m.id));
  } catch {
    return false;
  }
}

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/**
 * The extensions the warehouse needs. In @duckdb/node-api 1.5.6 (DuckDB v1.5.6) all three are
 * STATICALLY_LINKED (duckdb_extensions().install_mode), so nothing is ever downloaded.
 */
export const REQUIRED_EXTENSIONS = ['parquet', 'json', 'icu'] as const;

export class MissingExtensionError extends Error {
  constructor(missing: string[]) {
    super(
      `DuckDB build lacks built-in extension(s) ${missing.join(', ')}; automatic installs are off ` +
        `(autoinstall_known_extensions=false), use a DuckDB build with them statically linked`,
    );
    this.name = 'MissingExtensionError';
  }
}

export interface Warehouse {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

/** Opens a DuckDB file with automatic extension installs off and checks the built-ins. */
export async function openWarehouse(file: string): Promise<Warehouse> {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const instance = await DuckDBInstance.create(file, {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const conn = await instance.connect();
  const reader = await conn.runAndReadAll(
    `SELECT extension_name, loaded FROM duckdb_extensions() WHERE extension_name IN ('parquet','json','icu')`,
  );
  const found = new Map(reader.getRowObjects().map((r) => [String(r.extension_name), r.loaded === true]));
  const missing = REQUIRED_EXTENSIONS.filter((e) => !found.has(e));
  if (missing.length > 0) {
    conn.closeSync();
    instance.closeSync();
    throw new MissingExtensionError(missing);
  }
  for (const ext of REQUIRED_EXTENSIONS) if (!found.get(ext)) await conn.run(`LOAD ${ext}`);
  return {
    instance,
    conn,
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** Rows of a query as plain objects. */
export async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJson();
}

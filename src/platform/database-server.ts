import path from 'node:path';
import pg from 'pg';
import type { Registry } from 'prom-client';
import type { Config } from './config.js';
import { createDatabase, type Database } from './db.js';
import {
  buildClusterTemplate, startEmbeddedPostgres, withDatabase, type ClusterTemplate, type EmbeddedOptions, type EmbeddedServer,
} from './embedded-postgres.js';
import type { Logger } from './log.js';
import { migrate, migrationsKey } from './migrations.js';

export interface DatabaseServer {
  db: Database;
  url: string;
  /** The embedded server, when the platform started one. */
  embedded?: EmbeddedServer;
  close(): Promise<void>;
}

/**
 * Connects to `DATABASE_URL`, or starts the embedded PostgreSQL under `<dataDir>/pg` and
 * connects to its `embudo` database (created on first start).
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  applicationName = 'embudo',
  registry?: Registry,
  /** The embedded server when the caller already started it (startEmbedded). */
  started?: Promise<EmbeddedServer>,
): Promise<DatabaseServer> {
  if (config.databaseUrl) {
    const db = createDatabase({
      connectionString: config.databaseUrl,
      replicas: config.replicaUrls,
      replicaMaxLagMs: config.replicaMaxLagMs,
      connectTimeoutMs: config.connectTimeoutMs,
      max: config.poolSize,
      applicationName,
      registry,
      logger,
    });
    return { db, url: config.databaseUrl, close: () => db.close() };
  }
  const embedded = await (started ?? startEmbedded(config, logger));
  const url = withDatabase(embedded.url, 'embudo');
  const db = createDatabase({ connectionString: embedded.socketUrl ? withDatabase(embedded.socketUrl, 'embudo') : url, max: config.poolSize, applicationName, registry, logger });
  return {
    db,
    url,
    embedded,
    async close() {
      await db.close();
      await embedded.stop();
    },
  };
}

/**
 * Starts the embedded PostgreSQL under `<dataDir>/pg` with its `embudo` database. A first
 * start copies the cluster template (`config.pgTemplateDir`: initdb, the database and every
 * migration, made once per set of migrations) or else runs initdb. The CLI calls it before
 * loading the platform's code, so the server's start-up and Node's module loading overlap
 * (`hooks.onInitdbRunning` tells it when).
 */
export async function startEmbedded(
  config: Config,
  logger: Logger,
  hooks: Pick<EmbeddedOptions, 'mark' | 'onInitdbRunning'> = {},
): Promise<EmbeddedServer> {
  const { mark } = hooks;
  const embedded = await startEmbeddedPostgres({
    dir: path.join(config.dataDir, 'pg'),
    onLog: (line) => logger.debug({ component: 'postgres' }, line),
    ...hooks,
    ...(config.pgTemplateDir ? { template: clusterTemplate(config.pgTemplateDir) } : {}),
  });
  try {
    await ensureDatabase(embedded.url, 'embudo');
    mark?.('database');
  } catch (err) {
    await embedded.stop();
    throw err;
  }
  return embedded;
}

/** The embedded mode's cluster template: the `embudo` database with every migration applied. */
function clusterTemplate(dir: string): ClusterTemplate {
  return {
    dir,
    key: migrationsKey(),
    async prepare(adminUrl) {
      await ensureDatabase(adminUrl, 'embudo');
      const db = createDatabase({ connectionString: withDatabase(adminUrl, 'embudo'), max: 1, applicationName: 'embudo-template' });
      try {
        await migrate(db);
      } finally {
        await db.close();
      }
    },
  };
}

/**
 * Builds the cluster template for this set of migrations unless it exists (or another process
 * builds it): `embudo pg-template`, which `embudo start` runs in the background, at low
 * priority, after a first start that found none. Resolves with whether it built one.
 */
export async function buildTemplate(config: Config, logger: Logger): Promise<boolean> {
  if (!config.pgTemplateDir) return false;
  return buildClusterTemplate(clusterTemplate(config.pgTemplateDir), (line) => logger.debug({ component: 'postgres' }, line));
}

/** Creates a database on the server behind `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(
        `CREATE DATABASE ${client.escapeIdentifier(name)}${template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : ''}`,
      );
    }
  } catch (err) {
    // Two processes starting together may both try; the loser sees a duplicate.
    if (!(err instanceof Error && /already exists/.test(err.message))) throw err;
  } finally {
    await client.end();
  }
}

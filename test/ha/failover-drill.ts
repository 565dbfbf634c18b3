// The failover drill: the platform (HTTP in-process) against a primary + synchronous standby,
// steady durable writes (a row and its outbox event), kill -9 of the primary, promotion of
// the standby, and an audit of the new primary afterwards.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import { appendEvents } from '../../src/events/index.js';
import type { HaCluster } from '../../src/main/ha-cluster.js';
import { startPlatform } from '../../src/main/platform.js';
import type { Database } from '../../src/platform/db.js';
import type { HttpModule } from '../../src/platform/http.js';
import { intervalWorker } from '../../src/platform/worker.js';
import { testConfig } from '../support/platform.js';

export interface DrillReport {
  acknowledgedBeforeKill: number;
  acknowledged: number;
  lostAcknowledged: number;
  /** Requests cut by the kill: answered 503, outcome unknown to the client. */
  unavailable: number;
  unavailableWithoutRetryAfter: number;
  otherStatuses: Record<string, number>;
  killToPromotedMs: number;
  recoveredAfterKillMs: number;
  recoveredAfterPromoteMs: number;
  ordersWithoutEvent: number;
  eventsWithoutOrder: number;
  relayedTwice: number;
  relayMissing: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFailoverDrill(
  cluster: HaCluster,
  options: { loadMs: number; afterMs: number; clients: number },
): Promise<DrillReport> {
  const target = cluster.standbys[0];
  if (!target) throw new Error('the drill needs a synchronous standby');
  const holder: { db?: Database } = {};
  const routes: HttpModule = (app) => {
    app.post(
      '/ha-drill/orders',
      { schema: { body: z.object({ id: z.uuid() }).strict(), response: { 201: z.object({ id: z.string() }) } } },
      async (req, reply) => {
        const { id } = req.body;
        await holder.db!.transaction(
          async (tx) => {
            await tx.query('INSERT INTO ha_orders (id) VALUES ($1)', [id]);
            await appendEvents(tx, [{ type: 'hadrill.order_placed', version: 1, aggregateType: 'order', aggregateId: id, payload: { id } }]);
          },
          { durable: true },
        );
        return reply.code(201).send({ id });
      },
    );
  };

  const platform = await startPlatform(testConfig(cluster.url), { role: 'all', listen: false, modules: [routes] });
  const db = platform.database.db;
  holder.db = db;
  await db.query('CREATE TABLE ha_orders (id uuid PRIMARY KEY)');
  // No key on purpose: a double-applied event would show as a duplicate row.
  await db.query('CREATE TABLE ha_relayed (event_id uuid NOT NULL)');
  // A stand-in for the outbox relay: its position lives in the database (what it has relayed),
  // advanced in the same transaction as its effect, so it resumes exactly where it was.
  const relay = intervalWorker('ha-drill-relay', 20, platform.logger, () =>
    db.transaction(async (tx) => {
      const { rowCount } = await tx.query(
        `INSERT INTO ha_relayed (event_id)
         SELECT event_id FROM events_outbox o
          WHERE type = 'hadrill.order_placed'
            AND NOT EXISTS (SELECT 1 FROM ha_relayed r WHERE r.event_id = o.event_id)
          ORDER BY id LIMIT 200`,
      );
      return rowCount === 200;
    }),
  );
  relay.start();

  const acked: string[] = [];
  const statuses: Record<string, number> = {};
  let unavailable = 0;
  let withoutRetryAfter = 0;
  let killedAt: number | undefined;
  let primaryDeadAt: number | undefined;
  let firstAckAfterKill: number | undefined;
  let stop = false;
  const client = async () => {
    while (!stop) {
      const id = randomUUID();
      // Only a request sent once the primary is dead proves the platform serves again.
      const afterKill = primaryDeadAt !== undefined;
      const res = await platform.app.inject({ method: 'POST', url: '/ha-drill/orders', payload: { id } });
      if (res.statusCode === 201) {
        acked.push(id);
        if (afterKill) firstAckAfterKill ??= performance.now();
      } else if (res.statusCode === 503) {
        unavailable++;
        if (res.headers['retry-after'] === undefined) withoutRetryAfter++;
        await sleep(20);
      } else {
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      }
    }
  };
  const clients = Array.from({ length: options.clients }, client);

  let ackedBeforeKill = 0;
  try {
    await sleep(options.loadMs);
    ackedBeforeKill = acked.length;
    killedAt = performance.now();
    await cluster.primary.kill();
    primaryDeadAt = performance.now();
    await target.promote();
    const promotedAt = performance.now();
    for (let i = 0; i < 400 && firstAckAfterKill === undefined; i++) await sleep(25);
    if (firstAckAfterKill === undefined) throw new Error('the platform did not serve writes within 10 s of promotion');
    await sleep(options.afterMs);
    stop = true;
    await Promise.all(clients);

    const audit = new pg.Client({ connectionString: target.url });
    await audit.connect();
    try {
      const count = async (sql: string, params: unknown[] = []) =>
        (await audit.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]?.n ?? -1;
      const events = `(SELECT event_id, aggregate_id FROM events_outbox WHERE type = 'hadrill.order_placed') e`;
      for (let i = 0; i < 200; i++) {
        if ((await count(`${events} WHERE NOT EXISTS (SELECT 1 FROM ha_relayed r WHERE r.event_id = e.event_id)`)) === 0) break;
        await sleep(25);
      }
      return {
        acknowledgedBeforeKill: ackedBeforeKill,
        acknowledged: acked.length,
        lostAcknowledged: await count(`unnest($1::uuid[]) a(id) WHERE NOT EXISTS (SELECT 1 FROM ha_orders o WHERE o.id = a.id)`, [acked]),
        unavailable,
        unavailableWithoutRetryAfter: withoutRetryAfter,
        otherStatuses: statuses,
        killToPromotedMs: Math.round(promotedAt - killedAt),
        recoveredAfterKillMs: Math.round(firstAckAfterKill - killedAt),
        // Can be slightly negative: the platform may find the new primary before pg_promote() returns.
        recoveredAfterPromoteMs: Math.round(firstAckAfterKill - promotedAt),
        ordersWithoutEvent: await count(`ha_orders o WHERE NOT EXISTS (SELECT 1 FROM ${events} WHERE e.aggregate_id = o.id::text)`),
        eventsWithoutOrder: await count(`${events} WHERE NOT EXISTS (SELECT 1 FROM ha_orders o WHERE e.aggregate_id = o.id::text)`),
        relayedTwice: await count(`(SELECT event_id FROM ha_relayed GROUP BY event_id HAVING count(*) > 1) d`),
        relayMissing: await count(`${events} WHERE NOT EXISTS (SELECT 1 FROM ha_relayed r WHERE r.event_id = e.event_id)`),
      };
    } finally {
      await audit.end();
    }
  } finally {
    stop = true;
    await Promise.all(clients);
    await relay.stop();
    await platform.stop();
  }
}

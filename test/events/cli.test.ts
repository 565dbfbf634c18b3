import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadLetter } from '../../src/events/consumer.js';
import { listDeadLetters } from '../../src/events/index.js';
import { freshDatabase } from '../support/db.js';
import { spawnEmbudo } from '../support/process.js';
import { publish, uniqueContext } from './support.js';

const { db, url } = await freshDatabase();

async function embudo(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnEmbudo(args, { DATABASE_URL: url, NATS_URL: '' });
  const code = await p.exited;
  return { code, out: p.output() };
}

test('embudo events: dead-letters, replay <id>, rebuild <consumer>, catalog', async () => {
  const ctx = uniqueContext();
  const eventId = await publish(db, `${ctx}.e`, { n: 1 });
  await db.transaction((tx) =>
    deadLetter(tx, `${ctx}.c`, { seq: 1, id: eventId, type: `${ctx}.e`, version: 1, context: ctx, aggregateType: 'p', aggregateId: '1', payload: {}, occurredAt: new Date() }, new Error('boom'), 5),
  );
  await db.query(`INSERT INTO events_inbox (consumer, event_id) VALUES ($1, gen_random_uuid())`, [`${ctx}.c`]);
  const [dead] = await listDeadLetters(db);
  assert.ok(dead);

  const list = await embudo(['events', 'dead-letters']);
  assert.equal(list.code, 0, list.out);
  assert.match(list.out, new RegExp(`${dead.id}\\tdead\\t${ctx}\\.c\\t${ctx}\\.e`));

  const replay = await embudo(['events', 'replay', String(dead.id)]);
  assert.equal(replay.code, 0, replay.out);
  assert.equal((await listDeadLetters(db))[0]?.status, 'requested');
  assert.equal((await embudo(['events', 'replay', '999999'])).code, 1);

  const rebuild = await embudo(['events', 'rebuild', `${ctx}.c`]);
  assert.equal(rebuild.code, 0, rebuild.out);
  assert.match(rebuild.out, /1 inbox row\(s\) removed/);

  const catalog = await embudo(['events', 'catalog']);
  assert.equal(catalog.code, 0, catalog.out);
  assert.match(catalog.out, /# Event catalogue/);

  assert.equal((await embudo(['events'])).code, 2);
});

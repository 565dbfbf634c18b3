// A first start copies the cluster template (initdb and the migrations done once per set of
// migrations) instead of running initdb: what `prepare` put in it is in every new cluster;
// without one it runs initdb and says the template is missing; another key is another
// template (the old one goes); one build at a time.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { after } from 'node:test';
import pg from 'pg';
import {
  buildClusterTemplate, startEmbeddedPostgres, withDatabase, type ClusterTemplate, type EmbeddedServer,
} from '../../src/platform/embedded-postgres.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'embudo-tpl-'));
// As root the embedded server runs as `postgres`, which must be able to enter it.
chmodSync(root, 0o755);
const running: EmbeddedServer[] = [];
after(async () => {
  for (const s of running) await s.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

const templates = path.join(root, 'templates');
let prepared = 0;
const template = (key: string): ClusterTemplate => ({
  dir: templates,
  key,
  async prepare(url) {
    prepared += 1;
    const c = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
    await c.connect();
    await c.query('CREATE TABLE template_marker (key text)');
    await c.query('INSERT INTO template_marker VALUES ($1)', [key]);
    await c.end();
  },
});

async function start(name: string, t: ClusterTemplate): Promise<{ server: EmbeddedServer; marker: string | undefined; stages: string[] }> {
  const stages: string[] = [];
  const server = await startEmbeddedPostgres({ dir: path.join(root, name, 'pg'), template: t, mark: (s) => stages.push(s) });
  running.push(server);
  const c = new pg.Client({ connectionString: withDatabase(server.url, 'postgres') });
  await c.connect();
  const { rows } = await c.query<{ key: string }>(`SELECT key FROM template_marker`).catch(() => ({ rows: [] as { key: string }[] }));
  await c.end();
  await server.stop();
  return { server, marker: rows[0]?.key, stages };
}

test('first starts copy the template of their key once built; without one, initdb', async () => {
  const a = await start('a', template('one'));
  assert.equal(a.server.created, true);
  assert.equal(a.server.templateMissing, true);
  assert.equal(a.marker, undefined, 'initdb');

  // Two builders at once: one builds, the other finds it being built.
  assert.deepEqual((await Promise.all([buildClusterTemplate(template('one')), buildClusterTemplate(template('one'))])).sort(), [false, true]);
  assert.equal(prepared, 1);
  assert.equal(await buildClusterTemplate(template('one')), false, 'built already');
  const b = await start('b', template('one'));
  assert.equal(b.marker, 'one');
  assert.equal(b.server.templateMissing, undefined);
  assert.deepEqual(b.stages, ['initdb', 'postgres']);
  assert.equal(readdirSync(templates).length, 1);

  // New migrations, new template; the old one goes.
  assert.equal((await start('c', template('two'))).marker, undefined);
  assert.equal(await buildClusterTemplate(template('two')), true);
  assert.equal((await start('d', template('two'))).marker, 'two');
  assert.equal(readdirSync(templates).length, 1);

  // An existing cluster is started as it is.
  const again = await start('b', template('two'));
  assert.equal(again.server.created, false);
  assert.equal(again.marker, 'one');
});

test('a template directory that cannot be used leaves initdb in place', async () => {
  const blocked = path.join(root, 'not-a-dir');
  writeFileSync(blocked, '');
  await assert.rejects(buildClusterTemplate({ ...template('three'), dir: blocked }));
  const e = await start('e', { ...template('three'), dir: blocked });
  assert.equal(e.server.created, true);
  assert.equal(e.marker, undefined, 'a plain initdb cluster');
});

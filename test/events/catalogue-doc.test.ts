import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EVENT_DEFINITIONS } from '../../src/main/contexts.js';
import { DOC, withCatalogue } from '../../scripts/events-catalog.js';

test('every context registers the event types it appends, each with a schema and a description', () => {
  const types = EVENT_DEFINITIONS.map((d) => `${d.type}@${d.version}`);
  assert.equal(new Set(types).size, types.length, 'no type and version registered twice');
  const contexts = new Set(EVENT_DEFINITIONS.map((d) => d.type.split('.')[0]));
  for (const ctx of ['catalog', 'inventory', 'customers', 'checkout', 'payments']) assert.ok(contexts.has(ctx), `${ctx} registers its events`);
  for (const t of ['catalog.sku_changed', 'inventory.stock_changed', 'customers.address_added', 'checkout.order_placed', 'checkout.order_paid', 'payments.payment_approved', 'payments.ledger_posted']) {
    assert.ok(types.includes(`${t}@1`), `${t} v1 is in the catalogue`);
  }
  for (const d of EVENT_DEFINITIONS) assert.ok(d.description.length > 10, `${d.type} has a description`);
});

test('docs/events.md carries the current generated catalogue (npm run docs:events)', async () => {
  const doc = await readFile(DOC, 'utf8');
  assert.equal(doc, withCatalogue(doc), 'docs/events.md is stale: run `npm run docs:events`');
  assert.match(doc, /### checkout\n/);
  assert.match(doc, /\| `delivery\.comuna` \| string \| yes \|/);
  assert.match(doc, /\| `entries\[\]\.amount` \| integer \| yes \|/);
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { addFileKey, KEY_FILE, loadKeyring, retireFileKeys } from '../../src/payments/keyring.js';
import { MASTER_REJECT, startHarness, VISA_OK } from './harness.js';

const h = await startHarness();
const { payments } = h;

test('inscription saves only mask + type; the tbk_user is sealed; oneclick charges the saved card', async () => {
  const back = await h.enroll('cust-oc');
  assert.equal(back.status, 303);
  assert.match(back.location, /^http:\/\/shop\.test\/cards\?inscription=ok&cardId=/);
  const cards = await payments.cards.list('cust-oc');
  assert.equal(cards.length, 1);
  const card = cards[0];
  assert.ok(card);
  assert.equal(card.cardMask, 'XXXX6623');
  const { rows } = await h.db.query<{ ciphertext: Buffer; kek_id: string }>('SELECT ciphertext, kek_id FROM payment_saved_cards WHERE id = $1', [card.id]);
  assert.match(rows[0]?.kek_id ?? '', /^k-[0-9a-f]{12}$/);

  const r = await payments.startPayment({ orderId: 'oc-1', amount: 25990, currency: 'CLP', customerId: 'cust-oc', method: 'oneclick', savedCardId: card.id });
  assert.equal(r.status, 'approved');
  const approved = await h.outbox('payments.payment_approved', r.attemptId);
  assert.equal(approved[0]?.method, 'oneclick');

  // Another customer cannot charge this card.
  await assert.rejects(
    payments.startPayment({ orderId: 'oc-2', amount: 100, currency: 'CLP', customerId: 'someone-else', method: 'oneclick', savedCardId: card.id }),
    { code: 'saved_card_not_found' },
  );
});

test('a declined inscription stores nothing', async () => {
  const back = await h.enroll('cust-declined', MASTER_REJECT);
  assert.match(back.location, /inscription=failed/);
  assert.equal((await payments.cards.list('cust-declined')).length, 0);
});

test('concurrent duplicate startPayment for one order → charged once', async () => {
  await h.enroll('cust-race');
  const [card] = await payments.cards.list('cust-race');
  assert.ok(card);
  const input = { orderId: 'oc-race', amount: 9990, currency: 'CLP' as const, customerId: 'cust-race', method: 'oneclick' as const, savedCardId: card.id };
  const authorizeCalls = async () =>
    ((await (await fetch(`${h.sim.url}/sim/log`)).json()) as { summary: string }[]).filter((e) => e.summary === 'POST /rswebpaytransaction/api/oneclick/v1.2/transactions').length;
  const callsBefore = await authorizeCalls();
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => payments.startPayment(input)));
  // Each call either sees the one attempt (in flight or approved) or is told the order is paid.
  const ok = results.filter((x) => x.status === 'fulfilled').map((x) => x.value);
  const refused = results.filter((x) => x.status === 'rejected').map((x) => (x.reason as { code?: string }).code);
  assert.ok(ok.length >= 1);
  assert.ok(refused.every((c) => c === 'order_already_paid'), JSON.stringify(refused));
  assert.equal(new Set(ok.map((x) => x.attemptId)).size, 1);
  const { rows } = await h.db.query(`SELECT count(*)::int AS n FROM payment_attempts WHERE order_id = 'oc-race'`);
  assert.equal(rows[0]?.n, 1);
  assert.equal((await authorizeCalls()) - callsBefore, 1);
  assert.equal((await h.outbox('payments.payment_approved')).filter((p) => p.orderId === 'oc-race').length, 1);
  // A new payment for the paid order is refused.
  await assert.rejects(payments.startPayment(input), { code: 'order_already_paid' });
});

test('KEK rotation (env mode): new EMBUDO_KEK + old in EMBUDO_KEK_PREVIOUS; data keys rewrapped, card still charges', async () => {
  await h.enroll('cust-rot');
  const [card] = await payments.cards.list('cust-rot');
  assert.ok(card);
  const before = await h.db.query<{ kek_id: string; ciphertext: Buffer }>('SELECT kek_id, ciphertext FROM payment_saved_cards WHERE id = $1', [card.id]);
  const rotated = h.withConfig((c) => ({ ...c, kek: randomBytes(32).toString('base64'), payments: { ...c.payments, kekPrevious: [c.kek ?? ""] } }));
  const r = await rotated.rotateKek();
  assert.ok(r.rewrapped >= 1);
  assert.deepEqual(r.keysInUse, [r.newKeyId]);
  const after = await h.db.query<{ kek_id: string; ciphertext: Buffer }>('SELECT kek_id, ciphertext FROM payment_saved_cards WHERE id = $1', [card.id]);
  assert.notEqual(after.rows[0]?.kek_id, before.rows[0]?.kek_id);
  assert.deepEqual(after.rows[0]?.ciphertext, before.rows[0]?.ciphertext);
  const charged = await rotated.startPayment({ orderId: 'oc-rot', amount: 1990, currency: 'CLP', customerId: 'cust-rot', method: 'oneclick', savedCardId: card.id });
  assert.equal(charged.status, 'approved');
  // The old instance (old key only) can no longer open it.
  await assert.rejects(payments.startPayment({ orderId: 'oc-rot-2', amount: 1990, currency: 'CLP', customerId: 'cust-rot', method: 'oneclick', savedCardId: card.id }), { code: 'vault_unavailable' });
});

test('KEK file mode: generated on first embedded start, rotation adds a key and retires unused ones', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embudo-kek-'));
  assert.equal(loadKeyring({ dataDir: dir, createIfMissing: false }), undefined);
  const first = loadKeyring({ dataDir: dir, createIfMissing: true });
  assert.ok(first);
  assert.equal(statSync(path.join(dir, KEY_FILE)).mode & 0o777, 0o600);
  assert.equal(loadKeyring({ dataDir: dir, createIfMissing: false })?.currentId, first.currentId);
  const next = addFileKey(dir);
  const both = loadKeyring({ dataDir: dir, createIfMissing: false });
  assert.equal(both?.currentId, next);
  assert.deepEqual(both?.ids().sort(), [first.currentId, next].sort());
  retireFileKeys(dir, [next]);
  assert.deepEqual(loadKeyring({ dataDir: dir, createIfMissing: false })?.ids(), [next]);
  assert.ok(!readFileSync(path.join(dir, KEY_FILE), 'utf8').includes(first.current().toString('base64')));
});

test('deleting a card deletes the inscription at Transbank first', async () => {
  await h.enroll('cust-del');
  const [card] = await payments.cards.list('cust-del');
  assert.ok(card);
  await payments.cards.delete('cust-del', card.id);
  assert.equal((await payments.cards.list('cust-del')).length, 0);
  const log = JSON.stringify(await (await fetch(`${h.sim.url}/sim/log`)).json());
  assert.match(log, /DELETE \/rswebpaytransaction\/api\/oneclick\/v1.2\/inscriptions/);
  await assert.rejects(payments.cards.delete('cust-del', card.id), { code: 'saved_card_not_found' });
  assert.equal((await h.outbox('payments.card_deleted', card.id)).length, 1);
});

test('no PAN or CVV in the database dump or the logs', async () => {
  await payments.settle();
  const dump = execFileSync('pg_dump', ['--data-only', h.dbUrl], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.ok(dump.includes('payment_attempt_events'));
  for (const pan of [VISA_OK, MASTER_REJECT]) {
    assert.ok(!dump.includes(pan), `PAN ${pan} found in the database dump`);
    assert.ok(!h.lines.join('\n').includes(pan), `PAN ${pan} found in the logs`);
  }
  assert.ok(h.lines.length > 0);
});

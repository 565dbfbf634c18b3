import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { open, rewrap, seal } from './envelope.js';
import { mpSign, verifyMpSignature } from './mp-signature.js';
import { balances, capturePosting, feePosting, payoutPosting, refundPosting } from './ledger.js';

test('envelope: seal/open round-trips, is bound to its record, and fails with the wrong key', () => {
  const kek = randomBytes(32);
  const env = seal(kek, 'k1', 'tbk-user-secret', 'card-1');
  assert.equal(open(kek, env, 'card-1'), 'tbk-user-secret');
  assert.ok(!env.ciphertext.toString('latin1').includes('tbk-user-secret'));
  assert.throws(() => open(kek, env, 'card-2'));
  assert.throws(() => open(randomBytes(32), env, 'card-1'));
  const tampered = { ...env, ciphertext: Buffer.from(env.ciphertext) };
  tampered.ciphertext.writeUInt8(tampered.ciphertext.readUInt8(tampered.ciphertext.length - 1) ^ 1, tampered.ciphertext.length - 1);
  assert.throws(() => open(kek, tampered, 'card-1'));
});

test('envelope: rewrap changes only the wrapped key; the old KEK no longer opens it', () => {
  const oldKek = randomBytes(32);
  const newKek = randomBytes(32);
  const env = seal(oldKek, 'old', 'secret', 'c');
  const next = rewrap(oldKek, env, newKek, 'new', 'c');
  assert.equal(next.kekId, 'new');
  assert.deepEqual(next.ciphertext, env.ciphertext);
  assert.equal(open(newKek, next, 'c'), 'secret');
  assert.throws(() => open(oldKek, next, 'c'));
});

const secret = 'whsec-test-secret';
const now = new Date('2026-11-28T12:00:00Z');
const ts = String(Math.floor(now.getTime() / 1000));

test('MP signature: valid manifest verifies; any change, stale time or garbage fails', () => {
  const v1 = mpSign(secret, '123456', 'req-1', ts);
  const ok = verifyMpSignature({ signature: `ts=${ts},v1=${v1}`, requestId: 'req-1', dataId: '123456', secret, now });
  assert.equal(ok.ok, true);
  const cases = [
    { signature: `ts=${ts},v1=${v1}`, requestId: 'req-2', dataId: '123456' },
    { signature: `ts=${ts},v1=${v1}`, requestId: 'req-1', dataId: '123457' },
    { signature: `ts=${Number(ts) + 1},v1=${v1}`, requestId: 'req-1', dataId: '123456' },
    { signature: 'garbage', requestId: 'req-1', dataId: '123456' },
    { signature: undefined, requestId: 'req-1', dataId: '123456' },
  ];
  for (const c of cases) assert.equal(verifyMpSignature({ ...c, secret, now }).ok, false, JSON.stringify(c));
  const late = new Date(now.getTime() + 301_000);
  assert.deepEqual(verifyMpSignature({ signature: `ts=${ts},v1=${v1}`, requestId: 'req-1', dataId: '123456', secret, now: late }), { ok: false, reason: 'stale' });
});

test('MP signature: alphanumeric data.id is lower-cased before signing', () => {
  const v1 = mpSign(secret, 'abc123', 'r', ts);
  assert.equal(verifyMpSignature({ signature: `ts=${ts},v1=${v1}`, requestId: 'r', dataId: 'ABC123', secret, now }).ok, true);
});

test('ledger: every posting balances, for any amounts', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1e12 }), fc.constantFrom('transbank', 'mercadopago'), (amount, p) => {
      for (const posting of [capturePosting(p, amount), refundPosting(p, amount), feePosting(p, amount), payoutPosting(p, amount)]) {
        assert.ok(balances(posting.entries), posting.kind);
      }
    }),
  );
  assert.equal(balances([{ account: 'bank', amount: 1 }]), false);
  assert.equal(balances([{ account: 'bank', amount: 1 }, { account: 'refunds', amount: -2 }]), false);
});

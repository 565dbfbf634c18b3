import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { cardholderOutcome, luhnValid, signatureManifest, signWebhook } from './mercadopago.js';

test('the signature is HMAC-SHA256 over the documented manifest, and changes with every part', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), fc.stringMatching(/^[0-9]{1,15}$/), fc.uuid(), fc.integer({ min: 1, max: 2 ** 45 }), (secret, id, requestId, n) => {
      const ts = String(n);
      const header = signWebhook(secret, id, requestId, ts);
      const v1 = createHmac('sha256', secret).update(`id:${id};request-id:${requestId};ts:${ts};`).digest('hex');
      assert.equal(header, `ts=${ts},v1=${v1}`);
      assert.notEqual(signWebhook(secret, `${id}1`, requestId, ts), header);
      assert.notEqual(signWebhook(secret, id, `${requestId}x`, ts), header);
      assert.notEqual(signWebhook(secret, id, requestId, `${ts}0`), header);
    }),
  );
  assert.equal(signatureManifest('ABC123', 'r', '1'), 'id:abc123;request-id:r;ts:1;');
  assert.equal(signatureManifest(undefined, undefined, '1'), 'ts:1;');
});

test('test cardholder names decide the outcome; Luhn check', () => {
  assert.equal(cardholderOutcome('APRO').status, 'approved');
  assert.deepEqual(cardholderOutcome('CONT').then, { status: 'approved', detail: 'accredited' });
  assert.equal(cardholderOutcome('OTHE').detail, 'cc_rejected_other_reason');
  assert.ok(luhnValid('4051885600446623'));
  assert.ok(!luhnValid('4051885600446624'));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buyOrderFor, canTransition, decide, isFinal, nextCheckDelay, STATUSES, type AttemptStatus } from './attempt.js';

const status = fc.constantFrom(...STATUSES);

test('a final outcome is never replaced and a late pending never overwrites approved', () => {
  assert.equal(canTransition('approved', 'pending'), false);
  assert.equal(canTransition('approved', 'rejected'), false);
  assert.equal(canTransition('pending', 'approved'), true);
  assert.equal(canTransition('redirect', 'unknown'), true);
  assert.equal(canTransition('unknown', 'redirect'), false);
  assert.deepEqual(decide('approved', 'approved'), { kind: 'ignore', reason: 'same' });
});

test('folding any sequence of verdicts is monotonic and ends in at most one final state', () => {
  fc.assert(
    fc.property(fc.array(status, { maxLength: 30 }), (verdicts) => {
      let current: AttemptStatus = 'created';
      let finals = 0;
      const seen: AttemptStatus[] = [current];
      for (const v of verdicts) {
        const d = decide(current, v);
        if (d.kind === 'record') {
          assert.ok(canTransition(current, d.status));
          current = d.status;
          seen.push(current);
          if (isFinal(current)) finals += 1;
        }
      }
      assert.ok(finals <= 1);
      // Once final, nothing else was recorded.
      const firstFinal = seen.findIndex(isFinal);
      if (firstFinal >= 0) assert.equal(firstFinal, seen.length - 1);
    }),
  );
});

test('the result does not depend on the order verdicts arrive in when one is final', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom<AttemptStatus>('pending', 'unknown', 'redirect'), { maxLength: 8 }), fc.nat(8), (noise, at) => {
      const seq = [...noise];
      seq.splice(Math.min(at, seq.length), 0, 'approved');
      let current: AttemptStatus = 'created';
      for (const v of seq) {
        const d = decide(current, v);
        if (d.kind === 'record') current = d.status;
      }
      assert.equal(current, 'approved');
    }),
  );
});

test('buy orders fit Transbank (≤ 26 chars) and differ per attempt', () => {
  const a = buyOrderFor('0f8fad5b-d9cb-469f-a165-70867728950e');
  const b = buyOrderFor('7c9e6679-7425-40de-944b-e07fc1f90ae7');
  assert.ok(a.length <= 26 && /^[A-Za-z0-9]+$/.test(a));
  assert.notEqual(a, b);
});

test('janitor backoff grows from minutes to a day', () => {
  assert.equal(nextCheckDelay(0), 5 * 60_000);
  assert.ok(nextCheckDelay(2) > nextCheckDelay(1));
  assert.equal(nextCheckDelay(50), 24 * 3_600_000);
});

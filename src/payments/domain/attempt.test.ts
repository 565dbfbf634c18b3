import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buyOrderFor, canTransition, decide, isFinal, nextCheckDelay, STATUSES, type AttemptStatus } from './attempt.js';

const status = fc.constantFrom(...STATUSES);

test('an approval is never replaced, a late pending never overwrites it, and a late approval follows a failure', () => {
  assert.equal(canTransition('approved', 'pending'), false);
  assert.equal(canTransition('approved', 'rejected'), false);
  assert.equal(canTransition('approved', 'expired'), false);
  assert.equal(canTransition('pending', 'approved'), true);
  assert.equal(canTransition('redirect', 'unknown'), true);
  assert.equal(canTransition('unknown', 'redirect'), false);
  assert.equal(canTransition('rejected', 'approved'), true);
  assert.equal(canTransition('expired', 'approved'), true);
  assert.equal(canTransition('rejected', 'expired'), false);
  assert.equal(canTransition('rejected', 'pending'), false);
  assert.deepEqual(decide('approved', 'approved'), { kind: 'ignore', reason: 'same' });
  assert.deepEqual(decide('rejected', 'approved'), { kind: 'record', status: 'approved' });
});

test('folding any sequence of verdicts is monotonic: at most one failure, at most one approval, nothing after it', () => {
  fc.assert(
    fc.property(fc.array(status, { maxLength: 30 }), (verdicts) => {
      let current: AttemptStatus = 'created';
      const seen: AttemptStatus[] = [current];
      for (const v of verdicts) {
        const d = decide(current, v);
        if (d.kind === 'record') {
          assert.ok(canTransition(current, d.status));
          current = d.status;
          seen.push(current);
        }
      }
      const finals = seen.filter(isFinal);
      assert.ok(finals.filter((s) => s === 'approved').length <= 1);
      assert.ok(finals.filter((s) => s !== 'approved').length <= 1);
      // Once final, only a late approval may follow, and it is the last thing recorded.
      const firstFinal = seen.findIndex(isFinal);
      if (firstFinal >= 0) {
        const after = seen.slice(firstFinal + 1);
        assert.ok(after.length === 0 || (after.length === 1 && after[0] === 'approved' && seen[firstFinal] !== 'approved'), seen.join(' → '));
      }
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

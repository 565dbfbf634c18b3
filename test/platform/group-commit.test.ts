import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupCommit } from '../../src/platform/group-commit.js';

test('calls made in one turn share a batch; each caller gets its own answer, in order', async () => {
  const batches: number[][] = [];
  const double = groupCommit(async (xs: number[]) => {
    batches.push(xs);
    await new Promise((r) => setTimeout(r, 5));
    return xs.map((x) => x * 2);
  }, { maxInFlight: 1 });
  const first = await Promise.all([1, 2, 3].map(double));
  assert.deepEqual(first, [2, 4, 6]);
  assert.deepEqual(batches, [[1, 2, 3]]);
  // While a batch is in flight (maxInFlight 1) the next callers queue into one batch.
  const running = double(10);
  await new Promise((r) => setImmediate(r));
  const queued = [11, 12, 13].map(double);
  assert.deepEqual(await Promise.all([running, ...queued]), [20, 22, 24, 26]);
  assert.deepEqual(batches.slice(1), [[10], [11, 12, 13]]);
});

test('a batch that fails as a whole is written again item by item: only the bad item fails', async () => {
  const calls: number[][] = [];
  const write = groupCommit(async (xs: number[]) => {
    calls.push(xs);
    if (xs.includes(13)) throw new Error('unlucky');
    return xs.map((x) => `ok ${x}`);
  });
  const results = await Promise.allSettled([12, 13, 14].map(write));
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), ['ok 12', 'unlucky', 'ok 14']);
  assert.deepEqual(calls, [[12, 13, 14], [12], [13], [14]]);
});

test('batches hold at most maxBatch items', async () => {
  const sizes: number[] = [];
  const write = groupCommit(async (xs: number[]) => {
    sizes.push(xs.length);
    return xs;
  }, { maxBatch: 4, maxInFlight: 1 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => write(i)));
  assert.deepEqual(sizes, [4, 4, 2]);
});

test('with a key, a batch holds one item per key; the repeats go, in order, to the following batches', async () => {
  const batches: string[][] = [];
  const write = groupCommit(async (items: { id: string; n: number }[]) => {
    batches.push(items.map((i) => `${i.id}${i.n}`));
    return items.map((i) => `${i.id}${i.n} done`);
  }, { maxInFlight: 1, key: (i) => i.id });
  const items = [{ id: 'a', n: 1 }, { id: 'b', n: 1 }, { id: 'a', n: 2 }, { id: 'a', n: 3 }, { id: 'c', n: 1 }];
  assert.deepEqual(await Promise.all(items.map(write)), ['a1 done', 'b1 done', 'a2 done', 'a3 done', 'c1 done']);
  assert.deepEqual(batches, [['a1', 'b1', 'c1'], ['a2'], ['a3']]);
});

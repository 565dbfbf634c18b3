import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allocate, levelBook, type LevelState } from './allocation.js';

const level = (sku: string, locationId: string, priority: number, onHand: number, reserved = 0): LevelState => ({
  sku, locationId, priority, onHand, reserved,
});

test('one location that can serve the whole line wins, in priority then id order', () => {
  const book = levelBook([level('A', 'tienda', 20, 10), level('A', 'bodega', 10, 2), level('A', 'anexo', 20, 10)]);
  assert.deepEqual(allocate(book, [{ sku: 'A', quantity: 5 }]), { ok: true, allocations: [{ sku: 'A', locationId: 'anexo', quantity: 5 }] });
  assert.deepEqual(allocate(book, [{ sku: 'A', quantity: 2 }]), { ok: true, allocations: [{ sku: 'A', locationId: 'bodega', quantity: 2 }] });
});

test('a preferred location goes first; an unstocked preference falls back to the usual order', () => {
  const book = levelBook([level('A', 'bodega', 10, 10), level('A', 'tienda', 20, 10)]);
  assert.deepEqual(allocate(book, [{ sku: 'A', quantity: 1, locationId: 'tienda' }]), {
    ok: true, allocations: [{ sku: 'A', locationId: 'tienda', quantity: 1 }],
  });
  assert.deepEqual(allocate(book, [{ sku: 'A', quantity: 1, locationId: 'otra' }]), {
    ok: true, allocations: [{ sku: 'A', locationId: 'bodega', quantity: 1 }],
  });
});

test('a line no single location can serve is split greedily; a failing line leaves the book untouched', () => {
  const book = levelBook([level('A', 'bodega', 10, 3, 1), level('A', 'tienda', 20, 4), level('B', 'bodega', 10, 1)]);
  assert.deepEqual(allocate(book, [{ sku: 'A', quantity: 5 }]), {
    ok: true,
    allocations: [{ sku: 'A', locationId: 'bodega', quantity: 2 }, { sku: 'A', locationId: 'tienda', quantity: 3 }],
  });
  const before = JSON.stringify([...book]);
  assert.deepEqual(allocate(book, [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 2 }]), {
    ok: false, reason: 'insufficient_stock', sku: 'B', requested: 2, available: 1,
  });
  assert.equal(JSON.stringify([...book]), before);
  assert.deepEqual(allocate(book, [{ sku: 'C', quantity: 1 }]), { ok: false, reason: 'unknown_sku', sku: 'C' });
});

test('property: allocations never exceed availability and sum to the request', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ onHand: fc.integer({ min: 0, max: 20 }), priority: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 10 }),
      (locs, requests) => {
        const book = levelBook(locs.map((l, i) => level('A', `l${i}`, l.priority, l.onHand)));
        const total = locs.reduce((n, l) => n + l.onHand, 0);
        let taken = 0;
        for (const quantities of requests) {
          const result = allocate(book, quantities.map((quantity) => ({ sku: 'A', quantity })));
          const want = quantities.reduce((n, q) => n + q, 0);
          if (result.ok) {
            assert.equal(result.allocations.reduce((n, a) => n + a.quantity, 0), want);
            taken += want;
          } else {
            assert.ok(total - taken < want);
          }
          for (const l of book.get('A') ?? []) assert.ok(l.reserved <= l.onHand);
        }
      },
    ),
  );
});

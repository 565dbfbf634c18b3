import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHILE_REGIONS, findComuna, findRegion, validateAddress } from '../../src/customers/index.js';

test('the table holds Chile’s 16 regions and 346 comunas, each named once per región', () => {
  assert.equal(CHILE_REGIONS.length, 16);
  assert.equal(CHILE_REGIONS.reduce((n, r) => n + r.comunas.length, 0), 346);
  assert.equal(new Set(CHILE_REGIONS.map((r) => r.code)).size, 16);
  assert.equal(new Set(CHILE_REGIONS.map((r) => r.iso)).size, 16);
  for (const r of CHILE_REGIONS) assert.equal(new Set(r.comunas).size, r.comunas.length, r.name);
  const counts = Object.fromEntries(CHILE_REGIONS.map((r) => [r.iso, r.comunas.length]));
  assert.deepEqual(counts, {
    'CL-AP': 4, 'CL-TA': 7, 'CL-AN': 9, 'CL-AT': 9, 'CL-CO': 15, 'CL-VS': 38, 'CL-RM': 52, 'CL-LI': 33,
    'CL-ML': 30, 'CL-NB': 21, 'CL-BI': 33, 'CL-AR': 32, 'CL-LR': 12, 'CL-LL': 30, 'CL-AI': 10, 'CL-MA': 11,
  });
});

test('regions are found by name, CUT code or ISO code, ignoring accents and case', () => {
  assert.equal(findRegion('Región Metropolitana')?.code, '13');
  assert.equal(findRegion('13')?.iso, 'CL-RM');
  assert.equal(findRegion('cl-nb')?.name, 'Ñuble');
  assert.equal(findRegion('NUBLE')?.code, '16');
  assert.equal(findRegion('Valparaiso')?.code, '05');
  assert.equal(findRegion('5')?.code, '05');
  assert.equal(findRegion('Mendoza'), undefined);
  const rm = findRegion('RM');
  assert.ok(rm);
  assert.equal(findComuna(rm, 'nunoa'), 'Ñuñoa');
  assert.equal(findComuna(rm, 'TIL TIL'), 'Tiltil');
  assert.equal(findComuna(rm, 'Viña del Mar'), undefined);
});

test('a valid address is normalized to official names', () => {
  const r = validateAddress({ recipientName: ' Ana  Pérez ', street: 'Av. Providencia', number: '1234', apartment: 'Depto 51', comuna: 'providencia', region: 'metropolitana', phone: '+56 9 1234 5678' });
  assert.ok(r.ok);
  assert.equal(r.address.comuna, 'Providencia');
  assert.equal(r.address.region, 'Metropolitana de Santiago');
  assert.equal(r.address.regionCode, '13');
  assert.equal(r.address.recipientName, 'Ana Pérez');
  assert.equal(r.address.phone, '+56912345678');
  const sn = validateAddress({ recipientName: 'Luis', street: 'Camino Real', number: 's/n', comuna: 'Putre', region: 'Arica y Parinacota' });
  assert.ok(sn.ok);
  assert.equal(sn.address.number, 'S/N');
});

test('a comuna in another región is refused with the región it belongs to', () => {
  const r = validateAddress({ recipientName: 'Ana', street: 'Libertad', number: '10', comuna: 'Viña del Mar', region: 'Biobío' });
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.deepEqual(r.problems, [{ field: 'comuna', problem: 'the comuna is not in Biobío', suggestion: ['Valparaíso'] }]);
});

test('every problem is reported at once', () => {
  const r = validateAddress({ recipientName: '', street: ' ', number: 'abc', comuna: 'Springfield', region: 'Atlantis', phone: '555-1234' });
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.field).sort(), ['number', 'phone', 'recipientName', 'region', 'street']);
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BI_COOKIE } from '../../src/bi/index.js';
import { freshDatabase } from '../support/db.js';
import { EXPECTED, startBiFixture, type BiFixture } from './fixture.js';

const { db } = await freshDatabase();
const RANGE = { from: '2026-11-01', to: '2026-11-30' };

let f: BiFixture;
const cookies = new Map<string, string>();

async function login(fx: BiFixture, username: string, password: string): Promise<string> {
  const res = await fx.app.inject({ method: 'POST', url: '/bi/api/login', payload: { username, password } });
  assert.equal(res.statusCode, 200, res.body);
  const set = String(res.headers['set-cookie']);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  const m = new RegExp(`${BI_COOKIE}=([^;]+)`).exec(set);
  assert.ok(m?.[1]);
  return `${BI_COOKIE}=${m[1]}`;
}

async function as(role: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown) {
  return f.app.inject({ method, url, headers: { cookie: cookies.get(role) ?? '' }, ...(payload ? { payload: payload as Record<string, unknown> } : {}) });
}

async function panels(role: string, id: string, filters: Record<string, string> = {}) {
  const res = await as(role, 'GET', `/bi/api/dashboards/${id}?${new URLSearchParams({ ...RANGE, ...filters })}`);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<{ panels: { id: string; rows: Record<string, unknown>[]; available: boolean; error?: string }[] }>();
  for (const p of body.panels) assert.equal(p.error, undefined, `panel ${id}/${p.id} failed`);
  return new Map(body.panels.map((p) => [p.id, p]));
}
const kpi = (m: Map<string, { rows: Record<string, unknown>[] }>, id: string) => Number(m.get(id)?.rows[0]?.value);

before(async () => {
  f = await startBiFixture(db, { explorerTimeoutMs: 1500 });
  for (const [role, u] of Object.entries(f.users)) cookies.set(role, await login(f, u.username, u.password));
});
after(async () => f.close());

describe('bi: auth, roles and the first-run admin', () => {
  it('creates the admin once with a generated password; no default password; wrong passwords are 401', async () => {
    assert.equal(await f.bi.ensureAdmin(), undefined, 'a second start creates nothing');
    assert.ok(f.admin.password.length >= 20);
    await login(f, 'admin', f.admin.password);
    for (const guess of ['admin', 'password', 'changeme', '']) {
      const res = await f.app.inject({ method: 'POST', url: '/bi/api/login', payload: { username: 'admin', password: guess || 'x' } });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json<{ code: string }>().code, 'bad_credentials');
    }
    const stored = await db.query<{ password_hash: string }>(`SELECT password_hash FROM bi_users WHERE username = 'admin'`);
    assert.match(stored.rows[0]?.password_hash ?? '', /^scrypt\$32768\$8\$1\$/);
    assert.ok(!stored.rows[0]?.password_hash.includes(f.admin.password));
  });

  it('refuses anonymous calls and calls outside the role', async () => {
    const anon = await f.app.inject({ method: 'GET', url: `/bi/api/dashboards/earnings?${new URLSearchParams(RANGE)}` });
    assert.equal(anon.statusCode, 401);
    assert.equal((await as('engineer', 'GET', `/bi/api/dashboards/earnings?${new URLSearchParams(RANGE)}`)).statusCode, 403);
    assert.equal((await as('analyst', 'POST', '/bi/api/sql', { sql: 'SELECT 1' })).json<{ code: string }>().code, 'forbidden_for_role');
    assert.equal((await as('analyst', 'GET', '/bi/api/governance/catalog')).statusCode, 403);
    assert.equal((await as('scientist', 'GET', '/bi/api/admin/users')).statusCode, 403);
    assert.equal((await as('analyst', 'GET', `/bi/api/dashboards/earnings?from=2026-11-01&to=yesterday`)).statusCode, 400);
    assert.equal((await as('analyst', 'GET', `/bi/api/dashboards/nope?${new URLSearchParams(RANGE)}`)).statusCode, 404);
  });

  it('lets the admin create users with roles; weak passwords and unknown roles are 400', async () => {
    const ok = await as('admin', 'POST', '/bi/api/admin/users', { username: 'maria', password: 'a-long-enough-pass', roles: ['analyst', 'scientist'] });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.equal((await as('admin', 'POST', '/bi/api/admin/users', { username: 'pepe', password: 'short', roles: ['analyst'] })).json<{ code: string }>().code, 'weak_password');
    assert.equal((await as('admin', 'POST', '/bi/api/admin/users', { username: 'pepe', password: 'a-long-enough-pass', roles: ['root'] })).json<{ code: string }>().code, 'invalid_roles');
    assert.equal((await as('admin', 'POST', '/bi/api/admin/users', { username: 'maria', password: 'a-long-enough-pass', roles: ['analyst'] })).statusCode, 409);
    const patched = await as('admin', 'PATCH', '/bi/api/admin/users/maria', { roles: ['cdo'] });
    assert.deepEqual(patched.json<{ user: { roles: string[] } }>().user.roles, ['cdo']);
  });
});

describe('bi: dashboard numbers equal the hand-computed fixture', () => {
  it('earnings', async () => {
    const m = await panels('cdo', 'earnings');
    assert.equal(kpi(m, 'gmv'), EXPECTED.gmv);
    assert.equal(kpi(m, 'refunds'), EXPECTED.refunds);
    assert.equal(kpi(m, 'fees'), EXPECTED.fees);
    assert.equal(kpi(m, 'chargebacks'), EXPECTED.chargebacks);
    assert.equal(kpi(m, 'net_revenue'), EXPECTED.netRevenue);
    const breaks = Object.fromEntries((m.get('breaks')?.rows ?? []).map((r) => [String(r.label), Number(r.Breaks)] as const));
    assert.deepEqual(breaks, EXPECTED.breaks);
  });

  it('fraud', async () => {
    const m = await panels('analyst', 'fraud');
    assert.ok(Math.abs(kpi(m, 'approval_rate') - EXPECTED.approvalRate) < 1e-9);
    assert.equal(kpi(m, 'under_review'), EXPECTED.underReview);
    assert.equal(kpi(m, 'blocked_amount'), EXPECTED.blockedAmount);
    assert.equal(kpi(m, 'declined'), 2);
    assert.equal(m.get('rule_hits')?.available, false, 'no rule report port here');
  });

  it('trends, with new vs returning and RFM', async () => {
    const m = await panels('scientist', 'trends');
    assert.equal(kpi(m, 'orders'), EXPECTED.orders);
    assert.equal(kpi(m, 'aov'), EXPECTED.aov);
    assert.equal(kpi(m, 'units'), EXPECTED.units);
    assert.equal(kpi(m, 'customers'), EXPECTED.customers);
    const nvr = Object.fromEntries((m.get('new_vs_returning')?.rows ?? []).map((r) => [String(r.label), Number(r.Orders)] as const));
    assert.deepEqual(nvr, { new: EXPECTED.newCustomersOrders, returning: EXPECTED.returningOrders });
    const rfmCustomers = (m.get('rfm')?.rows ?? []).reduce((n, r) => n + Number(r.Customers), 0);
    assert.equal(rfmCustomers, EXPECTED.customers);
    const byCategory = Object.fromEntries((m.get('by_category')?.rows ?? []).map((r) => [String(r.label), Number(r.GMV)] as const));
    assert.deepEqual(byCategory, { despensa: 2000 + 5000 + 10000, bebidas: 5000 + 15000, electro: EXPECTED.gmvElectro });
  });

  it('stock', async () => {
    const m = await panels('analyst', 'stock');
    assert.equal(kpi(m, 'stockouts'), EXPECTED.stockouts);
    assert.equal(kpi(m, 'units_on_hand'), 47);
    assert.equal(kpi(m, 'stockouts'), 1);
    const loc = await panels('analyst', 'stock', { location: 'tienda-2' });
    assert.equal(kpi(loc, 'units_on_hand'), 7);
    assert.equal(kpi(loc, 'stockouts'), 0);
  });

  it('every global filter changes the numbers as computed by hand', async () => {
    assert.equal(kpi(await panels('cdo', 'earnings', { region: 'Biobío' }), 'gmv'), EXPECTED.gmvBiobio);
    assert.equal(kpi(await panels('cdo', 'earnings', { category: 'electro' }), 'gmv'), EXPECTED.gmvElectro);
    assert.equal(kpi(await panels('cdo', 'earnings', { method: 'webpay' }), 'gmv'), EXPECTED.gmvWebpay);
    assert.equal(kpi(await panels('cdo', 'earnings', { from: '2026-11-02', to: '2026-11-02' }), 'gmv'), 22_000);
    const both = await panels('cdo', 'trends', { region: 'Biobío', category: 'electro', method: 'webpay' });
    assert.equal(kpi(both, 'orders'), 1);
    assert.equal(kpi(both, 'aov'), 24_000);
  });

  it('operations reads the other contexts through their ports, and shows absent ones as not available', async () => {
    const m = await panels('engineer', 'operations');
    assert.equal(m.get('pending_by_age')?.available, false);
    assert.equal(m.get('etl_freshness')?.available, true);
    assert.ok((m.get('dq_status')?.rows.length ?? 0) > 5);
  });
});

describe('bi: optional ports', () => {
  it('shows the review queue as not available without the port', async () => {
    assert.deepEqual((await as('analyst', 'GET', '/bi/api/fraud-reviews')).json(), { available: false, reviews: [] });
    assert.equal((await as('analyst', 'POST', '/bi/api/fraud-reviews/rev-1/decision', { outcome: 'approve' })).statusCode, 503);
  });
});

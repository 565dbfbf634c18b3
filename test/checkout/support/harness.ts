import { randomUUID } from 'node:crypto';
import { createCheckout, createIdempotencyGuard, type CatalogPort, type EventsPort, type InventoryPort, type PaymentsPort } from '../../../src/checkout/index.js';
import { createCustomers } from '../../../src/customers/index.js';
import type { Clock } from '../../../src/platform/clock.js';
import { systemClock } from '../../../src/platform/clock.js';
import type { Database } from '../../../src/platform/db.js';
import { createHttpApp, type HttpApp } from '../../../src/platform/http.js';
import { createMetrics } from '../../../src/platform/metrics.js';
import { capturingLogger } from '../../support/platform.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** customers + checkout on an in-process HTTP app, with the given neighbours. */
export async function buildShop(db: Database, ports: { catalog: CatalogPort; inventory: InventoryPort; payments: PaymentsPort; events?: EventsPort }, clock: Clock = systemClock) {
  const { logger } = capturingLogger('silent');
  const idempotency = createIdempotencyGuard({ db, clock });
  const customers = createCustomers({ db, clock, idempotent: idempotency.idempotent });
  const checkout = createCheckout({ db, clock, logger, customers, idempotency, adminToken: ADMIN_TOKEN, ...ports });
  const app = await createHttpApp({ logger, metrics: createMetrics(), readiness: {}, modules: [customers.routes, ...checkout.routes] });
  return { app, customers, checkout };
}

/** A small HTTP client for one shopper. */
export function shopper(app: HttpApp, token: string) {
  const headers = (key?: string | null) => ({ authorization: `Bearer ${token}`, ...(key === null ? {} : { 'idempotency-key': key ?? randomUUID() }) });
  return {
    post: (url: string, payload?: object, key?: string | null) => app.inject({ method: 'POST', url, headers: headers(key), ...(payload ? { payload } : {}) }),
    get: (url: string, extra: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers: { ...headers(null), ...extra } }),
    put: (url: string, payload: object) => app.inject({ method: 'PUT', url, headers: headers(null), payload }),
    delete: (url: string) => app.inject({ method: 'DELETE', url, headers: headers(null) }),
  };
}

export async function guest(app: HttpApp, email = `g${randomUUID().slice(0, 8)}@example.cl`) {
  const res = await app.inject({ method: 'POST', url: '/customers/guest', payload: { email } });
  if (res.statusCode !== 201) throw new Error(`guest: ${res.body}`);
  const body = res.json<{ token: string; customer: { id: string } }>();
  return { ...shopper(app, body.token), customerId: body.customer.id, token: body.token };
}

export const ADDRESS = { recipientName: 'Ana Pérez', street: 'Av. Providencia', number: '1234', comuna: 'Providencia', region: 'RM' };

export async function cartWith(s: ReturnType<typeof shopper>, lines: Record<string, number>): Promise<string> {
  const cart = (await s.post('/carts')).json<{ id: string }>();
  for (const [sku, quantity] of Object.entries(lines)) {
    const r = await s.post(`/carts/${cart.id}/lines`, { sku, quantity });
    if (r.statusCode !== 200) throw new Error(`add line: ${r.body}`);
  }
  return cart.id;
}

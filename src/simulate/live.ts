import { randomUUID } from 'node:crypto';
import { momentAt } from './calendar.js';
import { generateCustomers, type SimCustomer } from './people.js';
import { httpClient, type HttpAnswer } from './http-client.js';
import { CARDS, processorClient } from './processor.js';
import { createRng, type Rng } from './rng.js';

export interface LiveOptions {
  /** The running platform, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  /** Its processor simulator, for the shopper's Webpay form and Mercado Pago card tokens. */
  simUrl: string;
  seed: number | string;
  /** Orders per second on an ordinary day's average hour (peaks multiply it). */
  rate: number;
  durationMs: number;
  /** Wall-clock seconds one simulated day lasts (the calendar's cycles and peaks compressed). */
  daySeconds?: number;
  /** Simulated date the run starts at (default: the coming CyberDay's eve). */
  start?: Date;
  /** Flat load: ignore the calendar (load tests, reliability runs). */
  flat?: boolean;
  /** Orders in flight at most; beyond it new ones are counted as `dropped` (default 256). */
  maxInFlight?: number;
  customerCount?: number;
  /** Share of shoppers who only browse per order placed (GETs of the catalogue). */
  browsePerOrder?: number;
  /** Called for every order the platform acknowledged (checkout answered 201). */
  onOrder?: (order: AcknowledgedOrder) => void;
  /** Every answer the platform gave (status and headers), e.g. to check Retry-After on 503s. */
  onResponse?: (status: number, headers: Headers) => void;
  signal?: AbortSignal;
}

export interface AcknowledgedOrder {
  orderId: string;
  total: number;
  method: string;
  payment: string;
  at: number;
}

export interface LiveResult {
  started: number;
  completed: number;
  dropped: number;
  /** Responses by HTTP status over the platform's answers (the processor simulator's are not counted here). */
  statuses: Record<string, number>;
  /** Every HTTP request the run sent, to the platform and to the processor simulator. */
  requests: number;
  /** Requests sent again after a 503 with Retry-After (each counted in `statuses` too). */
  retried: number;
  /** Failures that were not an HTTP answer (connection refused, reset). */
  networkErrors: number;
  /** Requests this client gave up on after 30 s (not counted in networkErrors). */
  timeouts: number;
  /** Checkouts refused for lack of stock (409 insufficient_stock); that SKU is then left out. */
  outOfStock: number;
  orders: number;
  approved: number;
  rejected: number;
  pending: number;
  /** Checkout latency percentiles (ms) over acknowledged orders. */
  p50: number;
  p99: number;
  ms: number;
}

interface Shopper {
  customer: SimCustomer;
  /** Signs in once: the shopper's orders in flight together share the session and address. */
  session?: Promise<{ token: string; addressId: string }>;
}

class HttpFailure extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

/**
 * Drives a running platform over its public HTTP API like shoppers would: guest sessions,
 * addresses, carts, checkout with Webpay (the form on the simulator, then the return),
 * Mercado Pago cards and cash vouchers, plus catalogue browsing. Arrivals are Poisson at
 * `rate` × the calendar's intensity, with a simulated day lasting `daySeconds`.
 */
export async function runLive(options: LiveOptions): Promise<LiveResult> {
  const rng = createRng(`${String(options.seed)}-live`);
  const http = httpClient();
  // Every request counted, the processor simulator's included (what a run costs per order).
  const client: typeof http = { ...http, request: (url, req) => {
    result.requests++;
    return http.request(url, req);
  } };
  const sim = processorClient(options.simUrl, client);
  const shoppers: Shopper[] = generateCustomers(rng.fork('customers'), options.customerCount ?? 200, `${String(options.seed)}-live-${Date.now().toString(36)}`)
    .map((customer) => ({ customer }));
  const result: LiveResult = { started: 0, completed: 0, dropped: 0, statuses: {}, requests: 0, retried: 0, networkErrors: 0, timeouts: 0, outOfStock: 0, orders: 0, approved: 0, rejected: 0, pending: 0, p50: 0, p99: 0, ms: 0 };
  const latencies: number[] = [];
  const skus = await sellableSkus(options.baseUrl);
  if (skus.length === 0) throw new Error(`no sellable SKUs at ${options.baseUrl}/catalog/products`);

  const call = async (method: string, path: string, body?: unknown, token?: string): Promise<unknown> => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    if (method === 'POST') headers['idempotency-key'] = randomUUID();
    const json = body !== undefined ? JSON.stringify(body) : undefined;
    let res: HttpAnswer;
    // As the shop does (web/shop/api.js): a 503 that says when to come back is sent again, with
    // the same Idempotency-Key, at most twice.
    for (let attempt = 0; ; attempt++) {
      try {
        res = await client.request(`${options.baseUrl}${path}`, {
          method, headers, timeoutMs: 30_000, ...(json !== undefined ? { body: json } : {}),
        });
      } catch (err) {
        if (err instanceof Error && err.name === 'TimeoutError') result.timeouts++;
        else result.networkErrors++;
        throw err;
      }
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      if (options.onResponse) options.onResponse(res.status, toHeaders(res.headers));
      const after = res.headers['retry-after'];
      const wait = typeof after === 'string' ? Number(after) * 1000 : Number.NaN;
      if (res.status !== 503 || attempt >= 2 || !(wait >= 0 && wait <= 5_000) || options.signal?.aborted) break;
      result.retried++;
      await new Promise((r) => setTimeout(r, wait));
    }
    if (res.status >= 400) throw new HttpFailure(res.status, res.text);
    return res.text ? (JSON.parse(res.text) as unknown) : undefined;
  };

  const signIn = (s: Shopper): Promise<{ token: string; addressId: string }> => {
    // Two orders of one shopper starting together used to sign in twice, and the first then
    // checked out with the second session's address (404 address_not_found under load).
    s.session ??= (async () => {
      const session = (await call('POST', '/customers/guest', { email: s.customer.email, name: s.customer.name })) as { token: string };
      const address = (await call('POST', '/customers/me/addresses', s.customer.address, session.token)) as { id: string };
      return { token: session.token, addressId: address.id };
    })();
    const pending = s.session;
    // A failed sign-in is tried again by the shopper's next order.
    pending.catch(() => {
      if (s.session === pending) delete s.session;
    });
    return pending;
  };

  const order = async (r: Rng) => {
    const s = r.pick(shoppers);
    const { token, addressId } = await signIn(s);
    const cart = (await call('POST', '/carts', undefined, token)) as { id: string };
    const n = r.int(1, 3);
    for (let i = 0; i < n; i++) await call('POST', `/carts/${cart.id}/lines`, { sku: r.pick(skus), quantity: r.int(1, 2) }, token);
    // Live mode has no saved cards (enrolment is a browser flow): Oneclick shoppers use Webpay.
    const method = s.customer.habit === 'oneclick' ? 'webpay' : s.customer.habit;
    const decline = r.chance(0.07);
    const payment = method === 'webpay' ? { method }
      : method === 'mercadopago_card' ? { method, cardToken: await sim.mpCardToken(decline ? 'OTHE' : 'APRO'), paymentMethodId: 'master' }
        : { method, paymentMethodId: 'servipag' };
    const t0 = performance.now();
    let r1: { orderId: string; totals: { total: number }; payment: { status: string }; next: { type: string; url?: string; token?: string } };
    try {
      r1 = (await call('POST', `/carts/${cart.id}/checkout`, { addressId, payment }, token)) as typeof r1;
    } catch (err) {
      soldOut(err);
      throw err;
    }
    latencies.push(performance.now() - t0);
    result.orders++;
    options.onOrder?.({ orderId: r1.orderId, total: r1.totals.total, method, payment: r1.payment.status, at: Date.now() });
    let status = r1.payment.status;
    if (method === 'webpay' && r1.next.type === 'redirect' && r1.next.url && r1.next.token) {
      const location = await sim.webpayPay({ url: r1.next.url, token: r1.next.token }, decline ? CARDS.masterReject : CARDS.visaApprove);
      const back = await client.request(location, { method: 'GET', timeoutMs: 30_000 });
      result.statuses[back.status] = (result.statuses[back.status] ?? 0) + 1;
      status = (await call('GET', `/orders/${r1.orderId}/status`, undefined, token) as { paymentStatus: string | null; status: string }).status === 'pending_payment' ? 'pending' : 'done';
    }
    if (status === 'approved') result.approved++;
    else if (status === 'rejected') result.rejected++;
    else if (status === 'pending' || status === 'redirect' || status === 'unknown') result.pending++;
  };

  // A sold-out SKU leaves the shoppers' choice, as the storefront would show it sold out (a
  // seeded history empties many: the run otherwise spent most checkouts on 409s).
  const soldOut = (err: unknown) => {
    if (!(err instanceof HttpFailure) || err.status !== 409) return;
    let body: { code?: unknown; details?: { sku?: unknown } };
    try {
      body = JSON.parse(err.body) as typeof body;
    } catch {
      return;
    }
    const sku = body.details?.sku;
    if (body.code !== 'insufficient_stock' || typeof sku !== 'string') return;
    result.outOfStock++;
    const i = skus.indexOf(sku);
    // The last one stays: a run never runs out of things to try.
    if (i >= 0 && skus.length > 1) skus.splice(i, 1);
  };

  const browse = async (r: Rng) => {
    await call('GET', `/catalog/skus?skus=${encodeURIComponent(Array.from({ length: r.int(1, 5) }, () => r.pick(skus)).join(','))}`);
  };

  const started = Date.now();
  const daySeconds = options.daySeconds ?? 60;
  const simStart = options.start ?? nextCyberDayEve(new Date());
  const maxInFlight = options.maxInFlight ?? 256;
  const browsePerOrder = options.browsePerOrder ?? 1;
  let inFlight = 0;
  const running = new Set<Promise<void>>();
  const launch = (kind: 'order' | 'browse', seq: number) => {
    if (inFlight >= maxInFlight) {
      result.dropped++;
      return;
    }
    inFlight++;
    result.started++;
    const r = rng.fork(`${kind}-${seq}`);
    const p = (kind === 'order' ? order(r) : browse(r))
      .then(() => {
        result.completed++;
      }, () => undefined)
      .finally(() => {
        inFlight--;
        running.delete(p);
      });
    running.add(p);
  };

  let seq = 0;
  let next = started;
  while (Date.now() - started < options.durationMs && !options.signal?.aborted) {
    const simNow = new Date(simStart.getTime() + ((Date.now() - started) / 1000 / daySeconds) * 86_400_000);
    const intensity = options.flat ? 1 : momentAt(simNow).intensity;
    const perSecond = Math.max(0.01, options.rate * intensity * (1 + browsePerOrder));
    // Exponential gaps: Poisson arrivals.
    next += (-Math.log(1 - rng.next()) / perSecond) * 1000;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    seq++;
    launch(rng.chance(1 / (1 + browsePerOrder)) ? 'order' : 'browse', seq);
  }
  await Promise.allSettled([...running]);
  client.close();
  latencies.sort((a, b) => a - b);
  result.p50 = Math.round(latencies[Math.floor(latencies.length * 0.5)] ?? 0);
  result.p99 = Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0);
  result.ms = Date.now() - started;
  return result;
}

function toHeaders(raw: HttpAnswer['headers']): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
  }
  return h;
}

async function sellableSkus(baseUrl: string): Promise<string[]> {
  const out: string[] = [];
  for (let offset = 0; offset < 2_000; offset += 200) {
    const res = await fetch(`${baseUrl}/catalog/products?limit=200&offset=${offset}`);
    if (!res.ok) throw new Error(`GET /catalog/products answered ${res.status}`);
    const products = (await res.json()) as { skus: { sku: string; available?: number; active?: boolean }[] }[];
    for (const p of products) for (const s of p.skus) if ((s.available ?? 0) > 0 && s.active !== false) out.push(s.sku);
    if (products.length < 200) break;
  }
  return out;
}

/** The day before the next CyberDay, so a live run starts quiet and climbs into the peak. */
function nextCyberDayEve(now: Date): Date {
  for (const year of [now.getUTCFullYear(), now.getUTCFullYear() + 1]) {
    const june = new Date(Date.UTC(year, 5, 1));
    const monday = new Date(Date.UTC(year, 5, 1 + ((8 - june.getUTCDay()) % 7)));
    const eve = new Date(monday.getTime() - 86_400_000);
    if (eve > now) return eve;
  }
  return now;
}

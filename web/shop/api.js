// The shop's link to the platform: JSON API calls with the session and an Idempotency-Key,
// the local cart, live availability (SSE with polling fallback) and order status (SSE over
// fetch, because EventSource cannot send the Authorization header, with polling fallback).

const SESSION_KEY = 'embudo.session';
const CART_KEY = 'embudo.cart';

/** A random id; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const read = (key, fallback) => {
  try {
    return JSON.parse(localStorage.getItem(key) ?? '') ?? fallback;
  } catch {
    return fallback;
  }
};

export const session = {
  get() {
    const s = read(SESSION_KEY, null);
    return s && Date.parse(s.expiresAt) > Date.now() ? s : null;
  },
  set(s) {
    localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  },
  clear() {
    localStorage.removeItem(SESSION_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Times a 503 with Retry-After (the platform overloaded or failing over) is tried again. */
const RETRIES_503 = 2;

/**
 * Calls the platform. Every POST carries an Idempotency-Key (given, or a new one). A 503 that
 * says when to come back (Retry-After, at most 5 s) is sent again, with the same key, up to
 * RETRIES_503 times within `timeoutMs`: the shopper sees the answer, not the overload.
 */
export async function api(path, { method = 'GET', body, key, timeoutMs = 25000 } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const s = session.get();
  if (s) headers.authorization = `Bearer ${s.token}`;
  if (method === 'POST') headers['idempotency-key'] = key ?? uuid();
  const ctrl = new AbortController();
  const deadline = Date.now() + timeoutMs;
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  let res;
  try {
    for (let attempt = 0; ; attempt++) {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ctrl.signal });
      const after = res.headers.get('retry-after');
      const wait = after === null ? NaN : Number(after) * 1000;
      if (res.status !== 503 || attempt >= RETRIES_503 || !(wait >= 0 && wait <= 5000) || Date.now() + wait >= deadline) break;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, wait));
    }
  } catch (err) {
    throw new ApiError(0, err.name === 'AbortError' ? 'timeout' : 'network', 'No pudimos conectarnos con la tienda.');
  } finally {
    clearTimeout(timer);
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && s) session.clear();
    throw new ApiError(res.status, data.code ?? `http_${res.status}`, data.message ?? res.statusText, data.details);
  }
  return data;
}

// ── cart (kept in the browser until checkout) ──

const listeners = new Set();
export const cart = {
  lines() {
    return read(CART_KEY, []);
  },
  save(lines) {
    localStorage.setItem(CART_KEY, JSON.stringify(lines.filter((l) => l.quantity > 0)));
    for (const fn of listeners) fn();
  },
  add(item, quantity) {
    const lines = cart.lines();
    const line = lines.find((l) => l.sku === item.sku);
    if (line) line.quantity = Math.min(99, line.quantity + quantity);
    else lines.push({ ...item, quantity });
    cart.save(lines);
  },
  set(sku, quantity) {
    cart.save(cart.lines().map((l) => (l.sku === sku ? { ...l, quantity } : l)));
  },
  clear() {
    cart.save([]);
  },
  count() {
    return cart.lines().reduce((n, l) => n + l.quantity, 0);
  },
  onChange(fn) {
    listeners.add(fn);
  },
};

// ── live availability ──

/**
 * Calls onLevel(sku, available) for each SKU now and on every change. Uses the SSE stream;
 * while it is down, polls. Returns a function that stops watching.
 */
export function watchAvailability(skus, onLevel) {
  const list = [...new Set(skus)].slice(0, 200);
  if (list.length === 0) return () => {};
  const q = encodeURIComponent(list.join(','));
  let pollTimer;
  let stopped = false;
  const poll = async () => {
    try {
      for (const a of await api(`/inventory/availability?skus=${q}`)) onLevel(a.sku, a.available);
    } catch {
      // keep the last known levels; try again
    }
    if (!stopped) pollTimer = setTimeout(poll, 5000);
  };
  let es;
  if ('EventSource' in window) {
    es = new EventSource(`/inventory/availability/stream?skus=${q}`);
    es.addEventListener('availability', (e) => {
      const a = JSON.parse(e.data);
      onLevel(a.sku, a.available);
    });
    es.onopen = () => clearTimeout(pollTimer);
    es.onerror = () => {
      clearTimeout(pollTimer);
      if (!stopped) pollTimer = setTimeout(poll, 1000);
    };
  } else {
    void poll();
  }
  return () => {
    stopped = true;
    clearTimeout(pollTimer);
    es?.close();
  };
}

// ── order status ──

const FINAL = new Set(['paid', 'payment_failed', 'expired', 'cancelled', 'refunded', 'partially_refunded', 'refunding', 'fulfilled']);
export const isFinal = (status) => FINAL.has(status);

/**
 * Follows an order's status: pushed over SSE (read with fetch so it can carry the session),
 * falling back to polling with ETags when the stream cannot be kept. onStatus(view, how).
 */
export function watchOrder(orderId, onStatus) {
  let stopped = false;
  let timer;
  let etag;
  let ctrl;
  let failures = 0;
  const auth = () => ({ authorization: `Bearer ${session.get()?.token ?? ''}` });
  const poll = async () => {
    try {
      const res = await fetch(`/orders/${orderId}/status`, { headers: { ...auth(), ...(etag ? { 'if-none-match': etag } : {}) } });
      if (res.status === 200) {
        etag = res.headers.get('etag') ?? undefined;
        onStatus(await res.json(), 'poll');
      }
    } catch {
      // offline for a moment: the next poll tries again
    }
    if (stopped) return;
    failures += 1;
    // Every so often, try the push stream again.
    timer = setTimeout(failures % 10 === 0 ? stream : poll, 3000);
  };
  const stream = async () => {
    try {
      ctrl = new AbortController();
      const res = await fetch(`/orders/${orderId}/events`, { headers: { ...auth(), accept: 'text/event-stream' }, signal: ctrl.signal });
      if (!res.ok || !res.body) throw new Error(`stream ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) onStatus(JSON.parse(data), 'push');
        }
      }
    } catch {
      // fall through to polling
    }
    if (!stopped) timer = setTimeout(poll, 500);
  };
  void stream();
  return () => {
    stopped = true;
    clearTimeout(timer);
    ctrl?.abort();
  };
}

/** Sends the browser to a processor's page: a POSTed form or a plain link. */
export function goToProcessor(next) {
  if (next.method === 'GET') {
    const url = new URL(next.url, location.href);
    if (next.field && next.token && !url.searchParams.has(next.field)) url.searchParams.set(next.field, next.token);
    location.assign(url.toString());
    return;
  }
  const form = document.createElement('form');
  form.method = 'POST';
  form.action = next.url;
  const input = document.createElement('input');
  input.type = 'hidden';
  input.name = next.field;
  input.value = next.token;
  form.append(input);
  document.body.append(form);
  form.submit();
}

const cache = new Map();
/** GET once per page load (catalogue, regions, settings). */
export function cached(path) {
  if (!cache.has(path)) cache.set(path, api(path).catch((err) => {
    cache.delete(path);
    throw err;
  }));
  return cache.get(path);
}
export const forget = (path) => cache.delete(path);

// Small DOM and formatting helpers shared by the BI pages.

/** Creates an element: h('div', { class: 'x', onclick: fn }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === '') continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

const clp = new Intl.NumberFormat('es-CL', { style: 'currency', currency: 'CLP', maximumFractionDigits: 0 });
const int = new Intl.NumberFormat('es-CL', { maximumFractionDigits: 0 });
const num = new Intl.NumberFormat('es-CL', { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat('es-CL', { notation: 'compact', maximumFractionDigits: 1 });

/** Formats a value for display: clp (pesos), int, pct (0..1), num, seconds. */
export function fmt(value, format, short = false) {
  if (value === null || value === undefined || value === '') return '—';
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  if (short && Math.abs(n) >= 10_000 && format !== 'pct') return `${format === 'clp' ? '$' : ''}${compact.format(n)}`;
  switch (format) {
    case 'clp': return clp.format(n);
    case 'int': return int.format(n);
    case 'pct': return `${num.format(Math.round(n * 1000) / 10)} %`;
    case 'seconds': return n < 120 ? `${int.format(n)} s` : n < 7200 ? `${num.format(n / 60)} min` : `${num.format(n / 3600)} h`;
    default: return num.format(n);
  }
}

const isNumeric = (v) => typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v));

/** A scrollable table of rows; `onRow` makes rows clickable. */
export function table(rows, { onRow, columns } = {}) {
  const cols = columns ?? (rows[0] ? Object.keys(rows[0]) : []);
  const tbody = h('tbody');
  for (const r of rows) {
    const tr = h('tr', { class: onRow ? 'click' : '' }, ...cols.map((c) => {
      const v = r[c];
      const text = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : isNumeric(v) && /amount|total|gmv|value|monetary|fee/i.test(c) ? fmt(v, 'clp') : String(v);
      return h('td', { class: isNumeric(v) ? 'num' : '' }, text);
    }));
    if (onRow) tr.addEventListener('click', () => onRow(r));
    tbody.append(tr);
  }
  return h('div', { class: 'tbl-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', {}, c.replaceAll('_', ' '))))), tbody));
}

/** Calls the BI API; throws an Error with the server's message on 4xx/5xx. */
export async function api(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: 'same-origin',
  });
  if (!res.ok) {
    let msg = `${res.status}`;
    try {
      const e = await res.json();
      msg = e.message ?? msg;
      const err = new Error(msg);
      err.code = e.code;
      err.status = res.status;
      throw err;
    } catch (ex) {
      if (ex instanceof Error && ex.status) throw ex;
      throw new Error(msg);
    }
  }
  const type = res.headers.get('content-type') ?? '';
  return type.includes('application/json') ? res.json() : res;
}

/** Downloads a GET or POST response as a file. */
export async function download(url, filename, body) {
  const res = await fetch(url, {
    method: body ? 'POST' : 'GET',
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) {
    const e = await res.json().catch(() => ({ message: res.statusText }));
    throw new Error(e.message);
  }
  const blob = await res.blob();
  const a = h('a', { href: URL.createObjectURL(blob), download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

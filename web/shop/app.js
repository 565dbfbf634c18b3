// Embudo Market: the shop's router and its browsing pages (catalogue, product, cart). Plain
// ES modules, no framework; routes live in the hash so no page can shadow an API path.
import { api, cached, cart, watchAvailability } from './api.js';
import { announce, explain, h, money, notice, stockText, tile } from './ui.js';

const main = document.getElementById('main');
/** Live stock per SKU, shared by every page (the catalogue's numbers, then SSE updates). */
export const levels = new Map();
let stops = [];

/** Registers something to stop when the page changes (streams, timers). */
export const onLeave = (fn) => stops.push(fn);

/** Replaces the page: title, content, focus on its heading for keyboard and reader users. */
export function show(title, ...nodes) {
  document.title = `${title} · Embudo Market`;
  main.replaceChildren(...nodes);
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

export function errorView(err) {
  show('Error', h('section.page', null, h('h1', null, 'No pudimos mostrar esta página'), notice('error', null, explain(err)),
    h('p', null, h('a.button', { href: '#/' }, 'Volver a la tienda'), ' ', h('button.ghost', { type: 'button', onclick: () => route() }, 'Reintentar'))));
}

const norm = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
const products = () => cached('/catalog/products?limit=200');

function remember(list) {
  for (const p of list) for (const s of p.skus) if (!levels.has(s.sku)) levels.set(s.sku, s.available);
}

const productStock = (p) => p.skus.reduce((n, s) => n + Math.max(0, levels.get(s.sku) ?? s.available), 0);
const lineItem = (p, s) => ({ sku: s.sku, name: s.name, price: s.price, productId: p.id, category: p.category });

function addToCart(p, s, quantity, button) {
  cart.add(lineItem(p, s), quantity);
  announce(`${s.name} agregado al carro`);
  const note = h('span.added', { role: 'status' }, '✓ Agregado · ', h('a', { href: '#/cart' }, 'Ver carro'));
  button.after(note);
  setTimeout(() => note.remove(), 4000);
}

// ── catalogue ──

async function catalogue(params) {
  const [all, cats] = await Promise.all([products(), cached('/catalog/categories')]);
  remember(all);
  const category = params.get('c');
  const q = (params.get('q') ?? '').trim();
  const catName = new Map(cats.map((c) => [c.slug, c.name]));
  let list = category ? all.filter((p) => p.category === category) : all;
  if (q) {
    const words = norm(q).split(/\s+/);
    list = list.filter((p) => {
      const text = norm([p.name, p.description, catName.get(p.category) ?? '', ...p.skus.map((s) => `${s.name} ${s.sku}`)].join(' '));
      return words.every((w) => text.includes(w));
    });
  }
  const search = document.getElementById('q');
  if (search && document.activeElement !== search) search.value = q;
  markCategory(category);

  const title = q ? `Resultados para “${q}”` : category ? catName.get(category) ?? 'Categoría' : 'Todo el catálogo';
  const cards = new Map();
  const grid = h('ul.grid', { 'aria-label': 'Productos' }, list.map((p) => {
    const card = productCard(p, catName.get(p.category));
    cards.set(p.id, card);
    return card.el;
  }));
  const hero = !q && !category
    ? h('section.hero', null, h('div', null, h('p.kicker', null, 'Despensa · Bebidas · Hogar · Vestuario'), h('h2', null, 'Lo de todos los días, con despacho a todo Chile'),
      h('p', null, 'Stock en vivo: si lo ves disponible, está en bodega. Paga con Webpay, en un clic con tu tarjeta guardada, o en efectivo con Mercado Pago.')))
    : null;
  show(title, hero ?? '', h('section.page', null,
    h('div.head', null, h('h1', null, title), h('p.muted', null, `${list.length} ${list.length === 1 ? 'producto' : 'productos'}`)),
    list.length ? grid : notice('info', 'No encontramos productos', 'Prueba con otra palabra o revisa todas las categorías.', h('p', null, h('a', { href: '#/' }, 'Ver todo el catálogo')))));

  const bySku = new Map(list.flatMap((p) => p.skus.map((s) => [s.sku, p.id])));
  onLeave(watchAvailability([...bySku.keys()], (sku, available) => {
    levels.set(sku, available);
    cards.get(bySku.get(sku))?.update();
  }));
}

function productCard(p, category) {
  const prices = p.skus.map((s) => s.price);
  const min = Math.min(...prices);
  const badge = h('span.stock');
  const single = p.skus.length === 1 ? p.skus[0] : undefined;
  const add = single ? h('button.small', { type: 'button', 'aria-label': `Agregar ${p.name} al carro`, onclick: (e) => addToCart(p, single, 1, e.currentTarget) }, 'Agregar') : null;
  const update = () => {
    const n = productStock(p);
    const t = stockText(n);
    badge.textContent = t.text;
    badge.className = `stock ${t.cls}`;
    if (add) add.disabled = n <= 0;
  };
  update();
  const el = h('li.card', { 'data-product': p.id },
    h('a.cover', { href: `#/p/${p.id}`, tabindex: '-1', 'aria-hidden': 'true' }, tile(p.name, p.category)),
    h('div.body', null,
      h('p.cat', null, category ?? p.category),
      h('h3', null, h('a', { href: `#/p/${p.id}` }, p.name)),
      h('p.price', null, prices.length > 1 && Math.max(...prices) !== min ? h('small', null, 'desde ') : '', money(min)),
      h('div.row', null, badge, add ?? h('a.small.ghost', { href: `#/p/${p.id}` }, `${p.skus.length} opciones`))));
  return { el, update };
}

function markCategory(slug) {
  for (const a of document.querySelectorAll('#cats a')) {
    if ((a.dataset.slug || null) === (slug ?? null) && !location.hash.includes('q=')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// ── product ──

async function productPage(id) {
  const p = await api(`/catalog/products/${id}`);
  remember([p]);
  const cats = await cached('/catalog/categories');
  const catName = cats.find((c) => c.slug === p.category)?.name ?? p.category;
  let selected = p.skus.find((s) => (levels.get(s.sku) ?? 0) > 0) ?? p.skus[0];
  if (!selected) throw Object.assign(new Error('Este producto no tiene variantes a la venta.'), { code: 'no_skus' });

  const price = h('p.price.big');
  const stock = h('p.stock-line', { id: 'stock-status', role: 'status', 'aria-live': 'polite' });
  const qty = h('input', { id: 'qty', type: 'number', min: '1', max: '99', value: '1', inputmode: 'numeric' });
  const buy = h('button.primary.wide', { type: 'submit', id: 'buy' }, 'Agregar al carro');
  const soldOutLive = new Set();

  const render = () => {
    const available = levels.get(selected.sku) ?? 0;
    price.textContent = money(selected.price);
    const t = stockText(available);
    stock.className = `stock-line ${t.cls}`;
    stock.textContent = available > 0
      ? `${t.text}${available > 5 ? ` · ${available} en stock` : ''}`
      : soldOutLive.has(selected.sku)
        ? 'Se acaba de agotar: otra persona compró la última unidad. Vuelve pronto, reponemos seguido.'
        : 'Agotado por ahora. Vuelve pronto, reponemos seguido.';
    buy.disabled = available <= 0;
    buy.textContent = available > 0 ? 'Agregar al carro' : 'Agotado';
    qty.max = String(Math.max(1, Math.min(99, available)));
    qty.disabled = available <= 0;
  };

  const options = p.skus.length > 1
    ? h('fieldset.variants', null, h('legend', null, 'Elige una opción'), p.skus.map((s) => h('label.variant', null,
      h('input', { type: 'radio', name: 'sku', value: s.sku, checked: s.sku === selected.sku, onchange: () => { selected = s; render(); } }),
      h('span', null, s.name), h('small', null, money(s.price)))))
    : null;

  const form = h('form.buybox', {
    onsubmit: (e) => {
      e.preventDefault();
      const n = Math.max(1, Math.min(Number(qty.value) || 1, levels.get(selected.sku) ?? 0));
      if (n > 0) addToCart(p, selected, n, buy);
    },
  }, price, stock, options ?? '', h('div.qty', null, h('label', { for: 'qty' }, 'Cantidad'), qty), buy,
  h('ul.assure', null, h('li', null, 'Despacho a todo Chile'), h('li', null, 'Pago seguro con Webpay o Mercado Pago'), h('li', null, 'Reservamos tu stock mientras pagas')));

  render();
  show(p.name, h('section.page.product', null,
    h('nav.crumbs', { 'aria-label': 'Ruta' }, h('a', { href: '#/' }, 'Inicio'), ' / ', h('a', { href: `#/?c=${p.category}` }, catName)),
    h('div.product-grid', null,
      tile(p.name, p.category, true),
      h('div', null, h('p.cat', null, catName), h('h1', null, p.name),
        p.description ? h('p.lead', null, p.description) : h('p.lead', null, `${p.name}: calidad de siempre, al precio justo.`),
        form,
        attributes(selected)))));

  onLeave(watchAvailability(p.skus.map((s) => s.sku), (sku, available) => {
    const before = levels.get(sku) ?? 0;
    levels.set(sku, available);
    if (before > 0 && available <= 0) soldOutLive.add(sku);
    if (sku === selected.sku) {
      render();
      if (before > 0 && available <= 0) announce('Este producto se acaba de agotar.');
    }
  }));
}

function attributes(s) {
  const entries = Object.entries(s.attributes ?? {});
  if (!entries.length) return '';
  return h('dl.attrs', null, entries.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// ── cart ──

/** The cart's lines checked against the catalogue now: price, still sold, stock. */
export async function checkedCart() {
  const lines = cart.lines();
  if (!lines.length) return { lines: [], problems: 0, subtotal: 0 };
  const skus = await api(`/catalog/skus?skus=${encodeURIComponent(lines.map((l) => l.sku).join(','))}`);
  const bySku = new Map(skus.map((s) => [s.sku, s]));
  for (const s of skus) levels.set(s.sku, s.available);
  const checked = lines.map((l) => {
    const s = bySku.get(l.sku);
    return { ...l, price: s?.price ?? l.price, name: s?.name ?? l.name, sold: Boolean(s?.active) };
  });
  return summarize(checked);
}

export function summarize(lines) {
  let problems = 0;
  let subtotal = 0;
  for (const l of lines) {
    const available = levels.get(l.sku) ?? 0;
    l.problem = !l.sold ? 'Ya no está a la venta' : available <= 0 ? 'Agotado: otra persona compró las últimas unidades' : available < l.quantity ? `Solo quedan ${available}` : '';
    if (l.problem) problems += 1;
    else subtotal += l.price * l.quantity;
  }
  return { lines, problems, subtotal };
}

async function cartPage() {
  const state = await checkedCart();
  const body = h('div');
  const render = () => {
    summarize(state.lines);
    if (!state.lines.length) {
      body.replaceChildren(notice('info', 'Tu carro está vacío', 'Agrega productos desde el catálogo.', h('p', null, h('a.button', { href: '#/' }, 'Ir al catálogo'))));
      return;
    }
    const total = state.lines.reduce((n, l) => n + (l.problem ? 0 : l.price * l.quantity), 0);
    const problems = state.lines.filter((l) => l.problem).length;
    body.replaceChildren(h('div.cart-grid', null,
      h('ul.lines', { 'aria-label': 'Productos en tu carro' }, state.lines.map((l) => cartLine(l, state, render))),
      h('aside.summary', { 'aria-label': 'Resumen' },
        h('h2', null, 'Resumen'),
        h('p.sum', null, h('span', null, 'Subtotal'), h('span', null, money(total))),
        h('p.sum.muted', null, h('span', null, 'Despacho'), h('span', null, 'se calcula al pagar')),
        problems ? notice('warn', null, problems === 1 ? 'Un producto de tu carro ya no está disponible. Quítalo o ajusta la cantidad para continuar.' : `${problems} productos de tu carro ya no están disponibles. Quítalos o ajusta las cantidades para continuar.`) : '',
        problems
          ? h('button.primary.wide', { type: 'button', disabled: true, id: 'to-checkout' }, 'Ir a pagar')
          : h('a.button.primary.wide', { href: '#/checkout', id: 'to-checkout' }, 'Ir a pagar'),
        h('p.small.muted', null, 'Reservamos el stock al confirmar el pago.'))));
  };
  render();
  show('Tu carro', h('section.page', null, h('h1', null, 'Tu carro'), body));
  onLeave(watchAvailability(state.lines.map((l) => l.sku), (sku, available) => {
    const before = levels.get(sku);
    levels.set(sku, available);
    if (before !== available) render();
  }));
}

function cartLine(l, state, render) {
  const change = (q) => {
    cart.set(l.sku, q);
    state.lines = state.lines.map((x) => (x.sku === l.sku ? { ...x, quantity: q } : x)).filter((x) => x.quantity > 0);
    render();
  };
  const available = levels.get(l.sku) ?? 0;
  return h(`li.line${l.problem ? '.bad' : ''}`, { 'data-sku': l.sku },
    tile(l.name, l.category),
    h('div.info', null,
      h('h3', null, l.productId ? h('a', { href: `#/p/${l.productId}` }, l.name) : l.name),
      h('p.muted', null, `${money(l.price)} c/u`),
      l.problem ? h('p.problem', { role: 'status' }, l.problem) : ''),
    h('div.controls', null,
      h('label', { for: `q-${l.sku}`, class: 'sr' }, `Cantidad de ${l.name}`),
      h('input', { id: `q-${l.sku}`, type: 'number', min: '1', max: '99', value: String(l.quantity), onchange: (e) => change(Math.max(1, Math.min(99, Number(e.target.value) || 1))) }),
      l.sold && available > 0 && available < l.quantity ? h('button.small', { type: 'button', onclick: () => change(available) }, `Dejar ${available}`) : '',
      h('button.small.ghost', { type: 'button', 'aria-label': `Quitar ${l.name}`, onclick: () => change(0) }, 'Quitar')),
    h('p.line-total', null, money(l.price * l.quantity)));
}

// ── router ──

const views = [];
/** Adds a page: a path pattern (hash part before "?") and its renderer. */
export const page = (pattern, render) => views.push([pattern, render]);

page(/^\/$/, (m, params) => catalogue(params));
page(/^\/p\/([0-9a-f-]{36})$/, (m) => productPage(m[1]));
page(/^\/cart$/, () => cartPage());

export async function route() {
  for (const stop of stops) stop();
  stops = [];
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  try {
    for (const [pattern, render] of views) {
      const m = pattern.exec(path);
      if (m) return await render(m, params);
    }
    show('No encontrado', h('section.page', null, h('h1', null, 'Página no encontrada'), h('p', null, 'Esta dirección no existe en la tienda. ', h('a', { href: '#/' }, 'Volver al catálogo'))));
  } catch (err) {
    console.error(err);
    errorView(err);
  }
}

function updateCount() {
  const n = cart.count();
  const el = document.getElementById('cart-count');
  el.textContent = String(n);
  el.setAttribute('aria-label', `${n} productos en el carro`);
}

async function boot() {
  updateCount();
  cart.onChange(updateCount);
  window.addEventListener('storage', updateCount);
  document.getElementById('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = document.getElementById('q').value.trim();
    location.hash = q ? `#/?q=${encodeURIComponent(q)}` : '#/';
  });
  // Never a blank page: anything unexpected becomes a message.
  window.addEventListener('unhandledrejection', (e) => errorView(e.reason));
  window.addEventListener('hashchange', route);
  await Promise.all([import('./checkout.js'), import('./account.js')]);
  await route();
  try {
    const cats = await cached('/catalog/categories');
    document.getElementById('cats').replaceChildren(h('a', { href: '#/', 'data-slug': '' }, 'Todo'),
      ...cats.map((c) => h('a', { href: `#/?c=${c.slug}`, 'data-slug': c.slug }, c.name)));
    const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
    if (location.hash.replace(/^#/, '').split('?')[0] === '/' || !location.hash) markCategory(params.get('c'));
  } catch {
    // the catalogue page itself reports what failed
  }
}

void boot();

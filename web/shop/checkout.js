// Checkout (account, address, payment method), the return from the processor, and the order
// status page that follows the payment live.
import { api, ApiError, cached, cart, goToProcessor, isFinal, session, uuid, watchOrder } from './api.js';
import { accessPanel, addressForm } from './account.js';
import { checkedCart, onLeave, page, route, show } from './app.js';
import { announce, explain, h, money, notice, when } from './ui.js';

const CHECKOUT_KEY = 'embudo.checkout';

const brand = (pan) => (pan.startsWith('4') ? 'visa' : /^(5[1-5]|2[2-7])/.test(pan) ? 'master' : /^3[47]/.test(pan) ? 'amex' : 'visa');
const cardName = (type) => ({ Visa: 'Visa', visa: 'Visa', Mastercard: 'Mastercard', master: 'Mastercard', AmericanExpress: 'American Express' })[type] ?? type;

async function checkoutPage() {
  const state = await checkedCart();
  if (!state.lines.length) {
    show('Pagar', h('section.page', null, h('h1', null, 'Pagar'), notice('info', 'Tu carro está vacío', 'Agrega productos antes de pagar.', h('p', null, h('a.button', { href: '#/' }, 'Ir al catálogo')))));
    return;
  }
  if (state.problems) {
    location.hash = '#/cart';
    return;
  }
  const s = session.get();
  if (!s) {
    show('Pagar', h('section.page.narrow', null, h('h1', null, 'Pagar'), steps(1),
      h('p.lead', null, 'Ingresa, crea una cuenta o compra como invitado.'), accessPanel({ guest: true, done: () => route() })));
    return;
  }

  const registered = s.customer.kind === 'registered';
  const [saved, cards] = await Promise.all([
    api('/customers/me/addresses').then((r) => r.addresses).catch(() => []),
    registered ? api('/customers/me/cards').then((r) => r.cards).catch(() => []) : Promise.resolve([]),
  ]);

  const settings = await cached('/storefront/settings').catch(() => ({ mercadoPago: null, shipping: null }));
  // Address: a saved one, or a new one.
  const fresh = await addressForm({ name: s.customer.name ?? '' });
  const saveIt = registered ? h('label.check', null, h('input', { type: 'checkbox', id: 'save-address', checked: true }), ' Guardar esta dirección en mi cuenta') : null;
  const freshBox = h('div.fresh', null, fresh.el, saveIt ?? '');
  const addressChoice = saved.length
    ? h('div.choices', null, saved.map((a, i) => h('label.choice', null, h('input', { type: 'radio', name: 'address', value: a.id, checked: i === 0, onchange: toggleFresh }),
      h('span', null, h('strong', null, a.recipientName), h('br'), `${a.street} ${a.number}${a.apartment ? `, ${a.apartment}` : ''}, ${a.comuna}, ${a.region}`))),
    h('label.choice', null, h('input', { type: 'radio', name: 'address', value: 'new', onchange: toggleFresh }), h('span', null, 'Despachar a otra dirección')))
    : null;
  function toggleFresh() {
    const v = document.querySelector('input[name=address]:checked')?.value;
    freshBox.hidden = Boolean(saved.length) && v !== 'new';
    reprice();
  }
  fresh.el.addEventListener('change', (e) => {
    if (e.target.id === 'addr-region') reprice();
  });

  // The delivery fee of the chosen región, so the button shows exactly what will be charged.
  let expectedTotal;
  const summaryBox = h('div');
  const regionCode = () => {
    const v = document.querySelector('input[name=address]:checked')?.value;
    if (saved.length && v !== 'new') return saved.find((a) => a.id === v)?.regionCode;
    return document.getElementById('addr-region')?.value || undefined;
  };
  function reprice() {
    const code = regionCode();
    const fees = settings.shipping;
    const shipping = code && fees ? (state.subtotal >= fees.freeFrom ? 0 : fees.fees[code]) : undefined;
    expectedTotal = shipping === undefined ? undefined : state.subtotal + shipping;
    summaryBox.replaceChildren(orderSummary(state.lines, state.subtotal, shipping === undefined ? undefined : { subtotal: state.subtotal, shipping, total: expectedTotal },
      fees && state.subtotal < fees.freeFrom ? `Despacho gratis desde ${money(fees.freeFrom)}.` : ''));
    pay.textContent = `Pagar ${money(expectedTotal ?? state.subtotal)}`;
  }
  freshBox.hidden = saved.length > 0;

  // Payment methods.
  const mpCard = h('div.sub', { id: 'mp-card-fields', hidden: true },
    field('mp-number', 'Número de tarjeta', { inputmode: 'numeric', autocomplete: 'cc-number', placeholder: '4509 9535 6623 3704' }),
    field('mp-name', 'Nombre como aparece en la tarjeta', { autocomplete: 'cc-name' }),
    h('div.two', null, field('mp-expiry', 'Vencimiento (MM/AA)', { autocomplete: 'cc-exp', placeholder: '11/30' }), field('mp-cvv', 'Código de seguridad', { inputmode: 'numeric', autocomplete: 'cc-csc' })),
    h('p.small.muted', null, 'Los datos de tu tarjeta van directo a Mercado Pago: nunca pasan por Embudo Market.'));
  const cashSelect = h('select', { id: 'mp-cash-method' }, h('option', { value: 'servipag' }, 'Efectivo en Servipag'), h('option', { value: 'khipu' }, 'Transferencia bancaria (Khipu)'));
  const mpCash = h('div.sub', { id: 'mp-cash-fields', hidden: true }, h('label', { for: 'mp-cash-method' }, 'Dónde pagarás'), cashSelect,
    h('p.small.muted', null, 'Te damos un cupón; reservamos tus productos hasta que Mercado Pago confirme el pago (puede tardar hasta 3 días).'));
  const methods = [
    ...cards.map((c, i) => ({ value: `card:${c.id}`, label: `${cardName(c.cardType)} terminada en ${c.cardMask.slice(-4)}`, hint: 'Pago en un clic con tu tarjeta guardada', checked: i === 0 })),
    { value: 'webpay', label: 'Webpay', hint: 'Tarjeta de débito, crédito o prepago en la página de Transbank', checked: cards.length === 0 },
    ...(settings.mercadoPago ? [{ value: 'mp_card', label: 'Mercado Pago · tarjeta', hint: 'Crédito o débito, aquí mismo', extra: mpCard }] : []),
    { value: 'mp_cash', label: 'Mercado Pago · efectivo o transferencia', hint: 'Paga en caja o por transferencia', extra: mpCash },
  ];
  const methodList = h('div.choices', { role: 'radiogroup', 'aria-label': 'Medio de pago' }, methods.map((m) => h('div', null,
    h('label.choice', null, h('input', { type: 'radio', name: 'method', value: m.value, checked: m.checked, onchange: toggleMethod }),
      h('span', null, h('strong', null, m.label), h('br'), h('small.muted', null, m.hint))), m.extra ?? '')));
  function toggleMethod() {
    const v = document.querySelector('input[name=method]:checked')?.value;
    mpCard.hidden = v !== 'mp_card';
    mpCash.hidden = v !== 'mp_cash';
  }

  const message = h('div', { id: 'checkout-message' });
  const pay = h('button.primary.wide', { type: 'submit', id: 'pay' }, `Pagar ${money(state.subtotal)}`);
  const lock = h('span', { 'aria-hidden': 'true' });
  lock.innerHTML = '<svg width="14" height="14" viewBox="0 0 24 24"><path d="M6 10V7a6 6 0 0112 0v3h1v12H5V10zm2 0h8V7a4 4 0 00-8 0z" fill="currentColor"/></svg>';
  const form = h('form.checkout', { novalidate: true, onsubmit: (e) => submit(e) },
    h('section.panel', null, h('h2', null, '1. Despacho'), addressChoice ?? '', freshBox),
    h('section.panel', null, h('h2', null, '2. Medio de pago'), methodList),
    message, pay,
    h('p.small.muted.center', null, lock, ' Pago protegido: los datos de tu tarjeta los recibe Transbank o Mercado Pago, nunca la tienda.'));

  async function submit(e) {
    e.preventDefault();
    message.replaceChildren();
    const method = document.querySelector('input[name=method]:checked')?.value;
    const chosen = document.querySelector('input[name=address]:checked')?.value;
    let address;
    let addressId;
    if (saved.length && chosen !== 'new') addressId = chosen;
    else {
      address = fresh.value();
      if (!address) {
        message.replaceChildren(notice('error', 'Revisa la dirección', 'Completa los campos marcados.'));
        return;
      }
    }
    pay.disabled = true;
    pay.textContent = 'Procesando…';
    try {
      if (address && registered && document.getElementById('save-address')?.checked) {
        addressId = (await api('/customers/me/addresses', { method: 'POST', body: address })).id;
        address = undefined;
      }
      const payment = await paymentChoice(method, settings);
      await placeOrder({ addressId, address, payment, ...(expectedTotal === undefined ? {} : { expectedTotal }) });
    } catch (err) {
      pay.disabled = false;
      reprice();
      message.replaceChildren(notice('error', err.code === 'card_declined' ? 'Tarjeta rechazada' : 'No pudimos completar tu compra', explain(err),
        ['insufficient_stock', 'sku_unavailable', 'unknown_sku', 'total_mismatch'].includes(err.code) ? h('p', null, h('a', { href: '#/cart' }, 'Revisar mi carro')) : ''));
      announce('No pudimos completar tu compra');
      if (err.status === 401) route();
    }
  }

  show('Pagar', h('section.page', null, h('h1', null, 'Pagar'), steps(2),
    h('div.cart-grid', null, form, summaryBox)));
  reprice();
}

function field(id, label, attrs = {}) {
  return h('div.field', null, h('label', { for: id }, label), h('input', { id, name: id, ...attrs }));
}

function steps(n) {
  const names = ['Cuenta', 'Despacho y pago', 'Confirmación'];
  return h('ol.steps', { 'aria-label': 'Pasos' }, names.map((s, i) => h('li', { 'aria-current': i + 1 === n ? 'step' : null, class: i + 1 < n ? 'done' : null }, s)));
}

function orderSummary(lines, subtotal, totals, note = '') {
  return h('aside.summary', { 'aria-label': 'Tu pedido' }, h('h2', null, 'Tu pedido'),
    h('ul.mini', null, lines.map((l) => h('li', null, h('span', null, `${l.quantity} × ${l.name}`), h('span', null, money((l.price ?? l.unitPrice) * l.quantity))))),
    h('p.sum', null, h('span', null, 'Subtotal'), h('span', null, money(totals?.subtotal ?? subtotal))),
    h('p.sum', null, h('span', null, 'Despacho'), h('span', null, totals ? (totals.shipping ? money(totals.shipping) : 'Gratis') : 'elige la región')),
    totals ? h('p.sum.total', null, h('span', null, 'Total'), h('span', null, money(totals.total))) : '',
    note ? h('p.small.muted', null, note) : '');
}

/** The payment part of the checkout body; Mercado Pago cards are tokenized at the processor first. */
async function paymentChoice(method, settings) {
  if (method?.startsWith('card:')) return { method: 'oneclick', savedCardId: method.slice(5) };
  if (method === 'webpay') return { method: 'webpay', returnUrl: `${location.origin}/#/return` };
  if (method === 'mp_cash') return { method: 'mercadopago_cash', paymentMethodId: document.getElementById('mp-cash-method').value };
  if (method === 'mp_card') {
    const pan = document.getElementById('mp-number').value.replace(/\D/g, '');
    const [mm, yy] = document.getElementById('mp-expiry').value.split('/').map((x) => Number(x.trim()));
    const name = document.getElementById('mp-name').value.trim();
    const cvv = document.getElementById('mp-cvv').value.trim();
    if (pan.length < 13 || !mm || !yy || !name || cvv.length < 3) throw new ApiError(400, 'card_incomplete', 'Completa los datos de la tarjeta.');
    const mp = settings.mercadoPago;
    let res;
    try {
      res = await fetch(`${mp.baseUrl}/v1/card_tokens?public_key=${encodeURIComponent(mp.publicKey)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ card_number: pan, expiration_month: mm, expiration_year: yy < 100 ? 2000 + yy : yy, security_code: cvv, cardholder: { name } }),
      });
    } catch {
      throw new ApiError(0, 'processor_unavailable', 'Mercado Pago no respondió.');
    }
    const token = await res.json().catch(() => ({}));
    if (!res.ok || !token.id) throw new ApiError(400, 'card_invalid', 'Mercado Pago no aceptó los datos de la tarjeta. Revisa el número y el vencimiento.');
    return { method: 'mercadopago_card', cardToken: token.id, paymentMethodId: brand(pan) };
  }
  throw new ApiError(400, 'method_required', 'Elige un medio de pago.');
}

/**
 * Creates the order: a server cart with the lines, then the checkout, under one
 * Idempotency-Key per attempt so a retry after a lost answer cannot buy twice.
 */
async function placeOrder(choice) {
  const lines = cart.lines();
  const attempt = JSON.parse(sessionStorage.getItem(CHECKOUT_KEY) ?? 'null');
  const sig = JSON.stringify([lines, choice]);
  const current = attempt && attempt.sig === sig ? attempt : { sig, key: uuid(), cartKey: uuid() };
  sessionStorage.setItem(CHECKOUT_KEY, JSON.stringify(current));
  let cartId = current.cartId;
  if (!cartId) {
    cartId = (await api('/carts', { method: 'POST', key: current.cartKey })).id;
    for (const l of lines) await api(`/carts/${cartId}/lines`, { method: 'POST', body: { sku: l.sku, quantity: l.quantity } });
    current.cartId = cartId;
    sessionStorage.setItem(CHECKOUT_KEY, JSON.stringify(current));
  }
  let out;
  try {
    out = await api(`/carts/${cartId}/checkout`, { method: 'POST', key: current.key, body: { ...choice, currency: 'CLP' }, timeoutMs: 60000 });
  } catch (err) {
    // Refused before an order existed (stock, address...): the next try starts clean.
    if (err.status >= 400 && err.status < 500) sessionStorage.removeItem(CHECKOUT_KEY);
    throw err;
  }
  sessionStorage.removeItem(CHECKOUT_KEY);
  sessionStorage.setItem('embudo.lastOrder', out.orderId);
  cart.clear();
  if (out.next.type === 'redirect' && out.payment.status === 'redirect') {
    show('Redirigiendo', h('section.page.narrow', null, h('h1', null, 'Te llevamos a Webpay…'), h('p', null, 'Completa el pago en la página segura de Transbank.')));
    goToProcessor(out.next);
    return;
  }
  location.hash = `#/order/${out.orderId}`;
}

// ── back from the processor ──

async function returnPage(params) {
  show('Volviendo', h('section.page.narrow', null, h('h1', null, 'Confirmando tu pago…'), h('p', null, 'Un momento, estamos revisando la respuesta del banco.')));
  const attemptId = params.get('attemptId');
  let orderId = sessionStorage.getItem('embudo.lastOrder');
  if (attemptId) {
    try {
      orderId = (await api(`/payments/attempts/${attemptId}`)).orderId;
    } catch {
      // fall back to the order this tab started
    }
  }
  if (!orderId) throw new ApiError(404, 'order_not_found', 'No encontramos el pedido de este pago. Revísalo en Mi cuenta › Pedidos.');
  location.replace(`#/order/${orderId}`);
}

// ── order status ──

const REASONS = [
  [/aborted/, 'Anulaste el pago en la página de Webpay. No se hizo ningún cargo a tu tarjeta.'],
  [/timeout|form_timeout/, 'Se agotó el tiempo para pagar en la página del banco. No se hizo ningún cargo.'],
  [/cc_rejected_insufficient|response_code_-?3|fund/i, 'Tu tarjeta no tiene saldo o cupo suficiente. No se hizo ningún cargo.'],
  [/response_code|cc_rejected|rejected|declined|failed/, 'Tu banco rechazó la tarjeta. No se hizo ningún cargo. Prueba con otra tarjeta u otro medio de pago.'],
  [/payment_error|refused|unavailable|unknown/, 'El procesador de pagos tuvo un problema y no pudo cobrar. No se hizo ningún cargo.'],
];
const reasonText = (reason) => REASONS.find(([re]) => re.test(reason ?? ''))?.[1] ?? 'El pago no se completó. No se hizo ningún cargo.';

function statusPanel(st, order, reason) {
  const next = st.next ?? null;
  const pending = st.status === 'pending_payment';
  const icon = (kind) => h(`span.icon.${kind}`, { 'aria-hidden': 'true' }, { ok: '✓', bad: '✕', wait: '…', info: 'i' }[kind]);
  const box = (kind, title, ...body) => h(`div.status-panel.${kind}`, { 'data-status': st.status, 'data-payment': st.paymentStatus ?? '' }, icon(kind), h('div', null, h('h2', null, title), ...body));
  if (pending && st.paymentStatus === 'pending') {
    const ticket = next?.type === 'redirect' && next.method === 'GET' ? h('a.button', { href: next.url, target: '_blank', rel: 'noopener' }, 'Ver cupón de pago') : '';
    return box('wait', 'Esperando tu pago',
      h('p', null, `Paga ${money(st.total)} con el cupón de Mercado Pago. Tus productos quedan reservados mientras tanto.`),
      h('p', null, 'El pago en efectivo o por transferencia puede tardar hasta 2 días hábiles en confirmarse. Esta página se actualiza sola: puedes cerrarla y volver cuando quieras desde Mi cuenta.'), ticket);
  }
  if (pending && st.paymentStatus === 'redirect') {
    return box('wait', 'Falta completar el pago',
      h('p', null, 'Tu pedido está reservado. Completa el pago en Webpay antes de que expire la reserva.'),
      next?.type === 'redirect' ? h('button.primary', { type: 'button', onclick: () => goToProcessor(next) }, 'Ir a pagar en Webpay') : '');
  }
  if (pending && st.paymentStatus === 'unknown') {
    return box('wait', 'Confirmando tu pago con el procesador',
      h('p', null, 'El procesador de pagos no respondió a tiempo. Estamos consultándole el resultado: no vuelvas a pagar, esta página se actualizará sola.'));
  }
  if (pending) return box('wait', 'Procesando tu pago…', h('p', null, 'Estamos esperando la confirmación del banco. No cierres esta página.'));
  switch (st.status) {
    case 'paid':
      return box('ok', '¡Pago aprobado!', h('p', null, `Recibimos tu pago de ${money(st.total)}. Te enviaremos un correo cuando despachemos tu pedido.`));
    case 'fulfilled':
      return box('ok', 'Pedido despachado', h('p', null, 'Tu pedido va en camino.'));
    case 'payment_failed':
      return box('bad', /aborted/.test(reason ?? '') ? 'Pago anulado' : /timeout/.test(reason ?? '') ? 'Tiempo de pago agotado' : 'Pago rechazado',
        h('p', null, reasonText(reason)), retry(order));
    case 'expired':
      return box('bad', 'Tu reserva expiró',
        h('p', null, 'No recibimos la confirmación del pago a tiempo, así que liberamos los productos reservados. No se hizo ningún cargo.'), retry(order));
    case 'cancelled':
      return box('info', 'Pedido anulado', h('p', null, 'Este pedido fue anulado. Si se hizo un cargo, lo devolveremos.'));
    default:
      return box('info', st.status.startsWith('refund') || st.status.includes('refunded') ? 'Pago devuelto' : 'Pedido actualizado', h('p', null, `Estado: ${STATUS_LABEL[st.status] ?? st.status}.`));
  }
}

function retry(order) {
  if (!order) return '';
  return h('p', null, h('button.primary', {
    type: 'button',
    id: 'retry',
    onclick: () => {
      for (const l of order.lines) cart.add({ sku: l.sku, name: l.name, price: l.unitPrice }, l.quantity);
      location.hash = '#/cart';
    },
  }, 'Volver a intentar'), ' ', h('a', { href: '#/' }, 'Seguir comprando'));
}

export const STATUS_LABEL = {
  pending_payment: 'Esperando pago', paid: 'Pagado', payment_failed: 'Pago rechazado', expired: 'Reserva expirada', cancelled: 'Anulado',
  refunding: 'Devolución en curso', partially_refunded: 'Devuelto en parte', refunded: 'Devuelto', fulfilled: 'Despachado',
};

async function orderPage(orderId) {
  if (!session.get()) {
    location.hash = `#/login?next=${encodeURIComponent(`/order/${orderId}`)}`;
    return;
  }
  const order = await api(`/orders/${orderId}`);
  const panel = h('div', { id: 'order-status', 'aria-live': 'polite' });
  const live = h('p.small.muted.live-note', { id: 'live-mode' }, 'Conectando…');
  let shown;
  let reason = null;
  let stopWatch;
  let done = false;
  const update = async (st, how) => {
    if (shown && st.version < shown.version) return;
    if (st.status === 'payment_failed' && reason === null) {
      // The order's history says why (e.g. payment_rejected:aborted_by_customer).
      const fresh = await api(`/orders/${orderId}`).catch(() => order);
      reason = [...(fresh.history ?? [])].reverse().find((t) => t.to === 'payment_failed')?.reason ?? '';
    }
    const changed = !shown || shown.status !== st.status || shown.paymentStatus !== st.paymentStatus;
    shown = st;
    live.textContent = isFinal(st.status) ? `Actualizado ${when(st.updatedAt)}` : how === 'push' ? '● En vivo: esta página se actualiza sola' : '● Actualizando cada pocos segundos';
    live.dataset.mode = how;
    if (changed) {
      panel.replaceChildren(statusPanel(st, order, reason));
      announce(panel.querySelector('h2')?.textContent ?? '');
    }
    if (isFinal(st.status)) {
      done = true;
      stopWatch?.();
    }
  };
  const d = order.delivery;
  show(`Pedido ${orderId.slice(0, 8)}`, h('section.page', null,
    h('div.head', null, h('h1', null, `Pedido #${orderId.slice(0, 8).toUpperCase()}`), h('p.muted', null, `Hecho el ${when(order.createdAt)}`)),
    panel, live,
    h('div.cart-grid', null,
      h('section.panel', null, h('h2', null, 'Despacho'), h('p', null, h('strong', null, d.recipientName), h('br'), `${d.street} ${d.number}${d.apartment ? `, ${d.apartment}` : ''}`, h('br'), `${d.comuna}, ${d.region}`),
        h('p.small.muted', null, `Medio de pago: ${METHOD_LABEL[order.paymentMethod] ?? order.paymentMethod}`)),
      orderSummary(order.lines.map((l) => ({ ...l, price: l.unitPrice })), order.subtotal, { subtotal: order.subtotal, shipping: order.shipping, total: order.total }))));
  await update({ orderId, status: order.status, paymentStatus: null, total: order.total, next: null, version: -1, updatedAt: order.updatedAt }, 'poll');
  if (done) return;
  stopWatch = watchOrder(orderId, (st, how) => void update(st, how));
  onLeave(stopWatch);
}

export const METHOD_LABEL = { oneclick: 'Tarjeta guardada (Oneclick)', webpay: 'Webpay', mercadopago_card: 'Mercado Pago · tarjeta', mercadopago_cash: 'Mercado Pago · efectivo o transferencia' };

page(/^\/checkout$/, () => checkoutPage());
page(/^\/return$/, (m, params) => returnPage(params));
page(/^\/order\/([0-9a-f-]{36})$/, (m) => orderPage(m[1]));


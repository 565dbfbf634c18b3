// Sign-in / sign-up / guest, the address form with región → comuna pickers, and the account
// pages: orders, addresses, saved cards (add through Transbank's page, delete).
import { api, cached, goToProcessor, session } from './api.js';
import { page, route, show } from './app.js';
import { announce, explain, h, money, notice, when } from './ui.js';

const STATUS_LABEL = {
  pending_payment: 'Esperando pago', paid: 'Pagado', payment_failed: 'Pago rechazado', expired: 'Reserva expirada', cancelled: 'Anulado',
  refunding: 'Devolución en curso', partially_refunded: 'Devuelto en parte', refunded: 'Devuelto', fulfilled: 'Despachado',
};
const STATUS_KIND = { paid: 'ok', fulfilled: 'ok', payment_failed: 'bad', expired: 'bad', cancelled: 'bad', pending_payment: 'wait' };

function input(id, label, attrs = {}, hint) {
  return h('div.field', null, h('label', { for: id }, label, attrs.required ? '' : h('small.muted', null, ' (opcional)')),
    h('input', { id, name: id, ...attrs, 'aria-describedby': hint ? `${id}-hint` : null }), hint ? h('small.muted', { id: `${id}-hint` }, hint) : '');
}

/** Sign in, create an account or (optionally) continue as guest; calls done() after. */
export function accessPanel({ guest, done }) {
  const message = h('div');
  const start = async (e, path, body) => {
    e.preventDefault();
    message.replaceChildren();
    const button = e.target.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      session.set(await api(path, { method: 'POST', body }));
      updateAccountLink();
      announce('Sesión iniciada');
      done();
    } catch (err) {
      message.replaceChildren(notice('error', null, explain(err)));
      button.disabled = false;
    }
  };
  const val = (id) => document.getElementById(id).value.trim();
  const login = h('form.panel', { onsubmit: (e) => start(e, '/sessions', { email: val('login-email'), password: document.getElementById('login-password').value }) },
    h('h2', null, 'Ya tengo cuenta'),
    input('login-email', 'Correo', { type: 'email', autocomplete: 'email', required: true }),
    input('login-password', 'Contraseña', { type: 'password', autocomplete: 'current-password', required: true }),
    h('button.primary', { type: 'submit' }, 'Ingresar'));
  const signup = h('form.panel', {
    onsubmit: (e) => start(e, '/customers', { email: val('signup-email'), password: document.getElementById('signup-password').value, ...(val('signup-name') ? { name: val('signup-name') } : {}) }),
  },
  h('h2', null, 'Crear cuenta'),
  input('signup-name', 'Nombre', { autocomplete: 'name' }),
  input('signup-email', 'Correo', { type: 'email', autocomplete: 'email', required: true }),
  input('signup-password', 'Contraseña', { type: 'password', autocomplete: 'new-password', required: true, minlength: '10' }, 'Al menos 10 caracteres.'),
  h('button.primary', { type: 'submit' }, 'Crear cuenta'),
  h('p.small.muted', null, 'Con cuenta guardas direcciones y tarjetas para pagar en un clic.'));
  const asGuest = guest
    ? h('form.panel', { onsubmit: (e) => start(e, '/customers/guest', { email: val('guest-email') }) },
      h('h2', null, 'Comprar como invitado'),
      input('guest-email', 'Correo', { type: 'email', autocomplete: 'email', required: true }, 'Te enviaremos ahí la confirmación.'),
      h('button', { type: 'submit' }, 'Continuar como invitado'))
    : '';
  return h('div', null, message, h('div.access', null, login, signup, asGuest));
}

/** The delivery address fields; value() returns the API body or undefined (and marks problems). */
export async function addressForm(defaults = {}) {
  const { regions } = await cached('/geo/cl/regions');
  const region = h('select', { id: 'addr-region', required: true, autocomplete: 'address-level1' },
    h('option', { value: '' }, 'Elige tu región'), regions.map((r) => h('option', { value: r.code }, r.name)));
  const comuna = h('select', { id: 'addr-comuna', required: true, disabled: true, autocomplete: 'address-level2' }, h('option', { value: '' }, 'Primero elige la región'));
  region.addEventListener('change', () => {
    const r = regions.find((x) => x.code === region.value);
    comuna.replaceChildren(h('option', { value: '' }, r ? 'Elige tu comuna' : 'Primero elige la región'), ...(r ? r.comunas.map((c) => h('option', { value: c }, c)) : []));
    comuna.disabled = !r;
  });
  const el = h('div.address', null,
    input('addr-name', 'Nombre de quien recibe', { required: true, autocomplete: 'name', value: defaults.name ?? '' }),
    h('div.two', null, input('addr-street', 'Calle', { required: true, autocomplete: 'address-line1' }), input('addr-number', 'Número', { required: true, inputmode: 'numeric' })),
    input('addr-apartment', 'Depto., casa u oficina', { autocomplete: 'address-line2' }),
    h('div.two', null, h('div.field', null, h('label', { for: 'addr-region' }, 'Región'), region), h('div.field', null, h('label', { for: 'addr-comuna' }, 'Comuna'), comuna)),
    input('addr-phone', 'Teléfono', { type: 'tel', autocomplete: 'tel', placeholder: '+56 9 1234 5678' }),
    input('addr-reference', 'Indicaciones para el repartidor'));
  const value = () => {
    const v = (id) => document.getElementById(id).value.trim();
    const body = { recipientName: v('addr-name'), street: v('addr-street'), number: v('addr-number'), comuna: comuna.value, region: region.value };
    let ok = true;
    for (const [id, val] of [['addr-name', body.recipientName], ['addr-street', body.street], ['addr-number', body.number], ['addr-region', body.region], ['addr-comuna', body.comuna]]) {
      const f = document.getElementById(id);
      f.setAttribute('aria-invalid', val ? 'false' : 'true');
      if (!val) {
        if (ok) f.focus();
        ok = false;
      }
    }
    if (!ok) return undefined;
    for (const [key, id] of [['apartment', 'addr-apartment'], ['phone', 'addr-phone'], ['reference', 'addr-reference']]) if (v(id)) body[key] = v(id);
    return body;
  };
  return { el, value };
}

export function updateAccountLink() {
  const s = session.get();
  const link = document.getElementById('account-link');
  if (link) link.textContent = s ? (s.customer.name ? `Hola, ${s.customer.name.split(' ')[0]}` : 'Mi cuenta') : 'Ingresar';
}

// ── pages ──

function loginPage(params) {
  const next = params.get('next') ?? '/account';
  show('Ingresar', h('section.page.narrow', null, h('h1', null, 'Ingresar'), accessPanel({ guest: false, done: () => { location.hash = `#${next}`; } })));
}

async function accountPage(tab, params) {
  const s = session.get();
  if (!s) {
    location.hash = `#/login?next=${encodeURIComponent(`/account/${tab}`)}`;
    return;
  }
  const tabs = [['orders', 'Pedidos'], ['addresses', 'Direcciones'], ...(s.customer.kind === 'registered' ? [['cards', 'Tarjetas']] : [])];
  const body = h('div.panel');
  const logout = async () => {
    await api('/sessions/current', { method: 'DELETE' }).catch(() => null);
    session.clear();
    updateAccountLink();
    location.hash = '#/';
  };
  show('Mi cuenta', h('section.page', null,
    h('div.head', null, h('h1', null, 'Mi cuenta'), h('p.muted', null, s.customer.email, s.customer.kind === 'guest' ? ' · invitado' : '')),
    h('nav.tabs', { 'aria-label': 'Secciones de tu cuenta' }, tabs.map(([id, name]) => h('a', { href: `#/account/${id}`, 'aria-current': id === tab ? 'page' : null }, name)),
      h('button.ghost.small', { type: 'button', onclick: logout }, 'Cerrar sesión')),
    body));
  if (tab === 'addresses') await addressesTab(body);
  else if (tab === 'cards') await cardsTab(body, params);
  else await ordersTab(body);
}

async function ordersTab(body) {
  const { orders } = await api('/orders?limit=50');
  if (!orders.length) {
    body.replaceChildren(h('h2', null, 'Tus pedidos'), notice('info', null, 'Aún no tienes pedidos.', h('p', null, h('a', { href: '#/' }, 'Ir al catálogo'))));
    return;
  }
  body.replaceChildren(h('h2', null, 'Tus pedidos'), h('ul.orders', null, orders.map((o) => h('li', null,
    h('a', { href: `#/order/${o.id}` }, h('strong', null, `#${o.id.slice(0, 8).toUpperCase()}`), h('span.muted', null, when(o.createdAt)),
      h('span', null, `${o.lines.reduce((n, l) => n + l.quantity, 0)} productos`), h('span', null, money(o.total)),
      h(`span.badge.${STATUS_KIND[o.status] ?? 'info'}`, null, STATUS_LABEL[o.status] ?? o.status))))));
}

async function addressesTab(body) {
  const { addresses } = await api('/customers/me/addresses');
  const form = await addressForm({ name: session.get()?.customer.name ?? '' });
  const message = h('div');
  const add = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const value = form.value();
      if (!value) return;
      try {
        await api('/customers/me/addresses', { method: 'POST', body: value });
        announce('Dirección guardada');
        await route();
      } catch (err) {
        message.replaceChildren(notice('error', null, explain(err)));
      }
    },
  }, h('h3', null, 'Agregar dirección'), form.el, message, h('button.primary', { type: 'submit' }, 'Guardar dirección'));
  body.replaceChildren(h('h2', null, 'Tus direcciones'),
    addresses.length
      ? h('ul.plain', null, addresses.map((a) => h('li.saved', null, h('span', null, h('strong', null, a.recipientName), ' · ', `${a.street} ${a.number}${a.apartment ? `, ${a.apartment}` : ''}, ${a.comuna}, ${a.region}`),
        h('button.small.ghost', { type: 'button', 'aria-label': `Borrar la dirección de ${a.street} ${a.number}`, onclick: async () => { await api(`/customers/me/addresses/${a.id}`, { method: 'DELETE' }); announce('Dirección borrada'); await route(); } }, 'Borrar'))))
      : h('p.muted', null, 'No tienes direcciones guardadas.'),
    add);
}

async function cardsTab(body, params) {
  const { cards } = await api('/customers/me/cards');
  const result = params.get('inscription');
  const message = h('div', { id: 'cards-message' },
    result === 'ok' ? notice('ok', 'Tarjeta guardada', 'Ya puedes pagar en un clic con ella.') : '',
    result === 'failed' ? notice('error', 'No pudimos guardar la tarjeta', 'Transbank no aceptó la inscripción. No se hizo ningún cargo; prueba con otra tarjeta.') : '');
  const addCard = async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const start = await api('/customers/me/cards/inscriptions', { method: 'POST', body: { returnUrl: `${location.origin}/#/account/cards` } });
      goToProcessor(start);
    } catch (err) {
      message.replaceChildren(notice('error', null, explain(err)));
      button.disabled = false;
    }
  };
  const remove = async (card) => {
    if (!confirm(`¿Borrar la tarjeta terminada en ${card.cardMask.slice(-4)}?`)) return;
    try {
      await api(`/customers/me/cards/${card.id}`, { method: 'DELETE' });
      announce('Tarjeta borrada');
      location.hash = '#/account/cards';
      await route();
    } catch (err) {
      message.replaceChildren(notice('error', null, explain(err)));
    }
  };
  body.replaceChildren(h('h2', null, 'Tarjetas guardadas'), message,
    cards.length
      ? h('ul.plain', { id: 'card-list' }, cards.map((c) => h('li.saved', { 'data-card': c.id }, h('span', null, h('strong', null, c.cardType), ` terminada en ${c.cardMask.slice(-4)}`, h('small.muted', null, ` · guardada el ${when(c.createdAt)}`)),
        h('button.small.ghost', { type: 'button', 'aria-label': `Borrar la tarjeta terminada en ${c.cardMask.slice(-4)}`, onclick: () => remove(c) }, 'Borrar'))))
      : h('p.muted', null, 'No tienes tarjetas guardadas.'),
    h('p', null, h('button.primary', { type: 'button', id: 'add-card', onclick: addCard }, 'Agregar tarjeta')),
    h('p.small.muted', null, 'La tarjeta se inscribe en la página de Transbank (Oneclick). Embudo Market guarda solo los últimos 4 dígitos.'));
}

page(/^\/login$/, (m, params) => loginPage(params));
page(/^\/account(?:\/(orders|addresses|cards))?$/, (m, params) => accountPage(m[1] ?? 'orders', params));

updateAccountLink();

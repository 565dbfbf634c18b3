// Small DOM helpers: build elements safely (text, never innerHTML with data), money, messages.

/** h('p.note', { id: 'x' }, 'text', child) → element. Attributes: on* are listeners. */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className += ` ${v}`;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const clp = new Intl.NumberFormat('es-CL', { style: 'currency', currency: 'CLP', maximumFractionDigits: 0 });
export const money = (n) => clp.format(n);

export const when = (iso) => new Date(iso).toLocaleString('es-CL', { dateStyle: 'medium', timeStyle: 'short' });

/** Announces a message to screen readers (and keeps it out of sight). */
export function announce(text) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  setTimeout(() => {
    live.textContent = text;
  }, 50);
}

/** A notice box: kind info | ok | warn | error. */
export const notice = (kind, title, ...body) =>
  h(`div.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, title ? h('strong', null, title) : null, ...body.map((b) => (typeof b === 'string' ? h('p', null, b) : b)));

/** The shopper-facing text for an API error code. */
export function explain(err) {
  const code = err?.code ?? '';
  const map = {
    insufficient_stock: 'No queda stock suficiente de un producto de tu carro: alguien alcanzó a comprarlo antes. Revisa tu carro.',
    sku_unavailable: 'Un producto de tu carro ya no está a la venta. Quítalo para continuar.',
    unknown_sku: 'Un producto de tu carro ya no existe en el catálogo. Quítalo para continuar.',
    total_mismatch: 'Los precios cambiaron desde que armaste tu carro. Revisa el nuevo total antes de pagar.',
    invalid_address: 'Revisa la dirección de despacho: falta un dato o la comuna no corresponde a la región.',
    address_required: 'Indica una dirección de despacho.',
    empty_cart: 'Tu carro está vacío.',
    saved_card_not_found: 'Esa tarjeta ya no está guardada. Elige otro medio de pago.',
    weak_password: 'Elige una contraseña de al menos 10 caracteres.',
    too_many_addresses: 'Ya tienes el máximo de direcciones guardadas. Borra una para agregar otra.',
    email_taken: 'Ya existe una cuenta con ese correo. Ingresa con tu contraseña.',
    invalid_credentials: 'Correo o contraseña incorrectos.',
    unauthenticated: 'Tu sesión expiró. Ingresa de nuevo.',
    processor_unavailable: 'El procesador de pagos no respondió. Intenta de nuevo en unos minutos.',
    unavailable: 'La tienda está con mucha demanda. Intenta de nuevo en unos segundos.',
    overloaded: 'La tienda está con mucha demanda. Intenta de nuevo en unos segundos; no se duplicará tu compra.',
    timeout: 'La tienda tardó demasiado en responder. Revisa tu conexión e intenta de nuevo; no se duplicará tu compra.',
    network: 'No pudimos conectarnos con la tienda. Revisa tu conexión e intenta de nuevo.',
  };
  if (map[code]) return map[code];
  if (err?.status >= 500) return 'Algo falló de nuestro lado. Intenta de nuevo en unos segundos.';
  return err?.message || 'Algo salió mal. Intenta de nuevo.';
}

/** Stock text for a level: sold out, few left, in stock. */
export function stockText(available) {
  if (available <= 0) return { text: 'Agotado', cls: 'out' };
  if (available <= 5) return { text: available === 1 ? '¡Queda 1 unidad!' : `¡Quedan ${available}!`, cls: 'low' };
  return { text: 'Disponible', cls: 'ok' };
}

/** A deterministic soft colour per text, for product tiles without photos. */
export function hue(text) {
  let n = 0;
  for (const c of text) n = (n * 31 + c.charCodeAt(0)) % 360;
  return n;
}

export const CATEGORY_ICON = {
  despensa: 'M4 10h16l-2 10H6zM8 10V7a4 4 0 018 0v3',
  bebidas: 'M9 2h6v4l2 3v13H7V9l2-3z',
  hogar: 'M3 11l9-8 9 8v10h-6v-6H9v6H3z',
  vestuario: 'M8 3l4 2 4-2 5 4-3 4-2-1v11H8V10l-2 1-3-4z',
};

export function tile(name, category, big = false) {
  const icon = CATEGORY_ICON[category] ?? CATEGORY_ICON.hogar;
  const el = h(`div.tile${big ? '.big' : ''}`, { 'aria-hidden': 'true' });
  el.style.setProperty('--h', String(hue(name)));
  el.innerHTML = `<svg viewBox="0 0 24 24" width="${big ? 96 : 56}" height="${big ? 96 : 56}"><path d="${icon}" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round"/></svg>`;
  return el;
}

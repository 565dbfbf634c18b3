// The HTML the shopper sees: Webpay's payment form, the Oneclick inscription form, and the
// hand-back to the merchant. Plain server-rendered pages, no scripts needed except the
// optional auto-submit of the return form and the form's own time-out.

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>
body{font-family:system-ui,sans-serif;background:#f3f3f7;margin:0;padding:2rem;color:#222}
main{max-width:26rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.2rem;color:#6b196b}label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1rem;border:0;border-radius:4px;background:#d5006d;color:#fff;cursor:pointer}
button.secondary{background:#888}small{color:#666}.sim{margin-top:1.5rem;border-top:1px dashed #ccc;padding-top:.5rem}
</style></head><body><main>${body}</main></body></html>`;
}

export interface FormPage {
  action: string;
  tokenField: string;
  token: string;
  title: string;
  amount?: number;
  commerce: string;
  timeoutMs?: number;
}

/** The card form (Webpay Plus payment or Oneclick inscription). */
export function cardFormPage(p: FormPage): string {
  const hidden = `<input type="hidden" name="${esc(p.tokenField)}" value="${esc(p.token)}">`;
  const timeout = p.timeoutMs
    ? `<script>setTimeout(function(){var f=document.getElementById('timeout');if(f)f.submit();},${Math.max(1000, p.timeoutMs)});</script>`
    : '';
  return layout(
    p.title,
    `<h1>${esc(p.title)}</h1><p>Comercio ${esc(p.commerce)}${p.amount !== undefined ? ` · Monto <strong>$${p.amount.toLocaleString('es-CL')}</strong>` : ''}</p>
<form method="post" action="${esc(p.action)}" id="pay">${hidden}<input type="hidden" name="action" value="pay">
<label for="card_number">Número de tarjeta</label><input id="card_number" name="card_number" autocomplete="off" inputmode="numeric" required>
<label for="expiry">Vencimiento (MM/AA)</label><input id="expiry" name="expiry" autocomplete="off">
<label for="cvv">CVV</label><input id="cvv" name="cvv" autocomplete="off" inputmode="numeric">
<button type="submit" id="submit">Pagar</button></form>
<form method="post" action="${esc(p.action)}" id="abort">${hidden}<input type="hidden" name="action" value="abort"><button class="secondary" type="submit">Anular compra y volver al comercio</button></form>
<div class="sim"><small>Simulador — tarjetas de prueba: VISA 4051 8856 0044 6623 (aprueba), Mastercard 5186 0595 5959 0568 (rechaza).</small>
<form method="post" action="${esc(p.action)}" id="timeout">${hidden}<input type="hidden" name="action" value="timeout"><button class="secondary" type="submit">Simular tiempo agotado</button></form>
<form method="post" action="${esc(p.action)}" id="error">${hidden}<input type="hidden" name="action" value="error"><button class="secondary" type="submit">Simular error</button></form></div>${timeout}`,
  );
}

/** An auto-submitting POST form back to the merchant (the POST return shape). */
export function returnFormPage(target: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  return layout(
    'Volviendo al comercio',
    `<p>Volviendo al comercio…</p><form method="post" action="${esc(target)}" id="return">${inputs}<button type="submit">Continuar</button></form>
<script>document.getElementById('return').submit();</script>`,
  );
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${esc(title)}</h1><p>${esc(message)}</p>`);
}

/** The admin page: what the simulator received and sent. */
export function adminPage(rows: { at: Date; direction: 'in' | 'out'; summary: string; status?: number }[]): string {
  const body = rows
    .map((r) => `<tr><td>${esc(r.at.toISOString())}</td><td>${r.direction === 'in' ? '←' : '→'}</td><td>${esc(r.summary)}</td><td>${r.status ?? ''}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Processor simulator</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem}table{border-collapse:collapse;font-size:.85rem}td{border-bottom:1px solid #ddd;padding:.2rem .5rem}</style></head>
<body><h1>Processor simulator — traffic</h1><table><tr><th>at</th><th></th><th>call</th><th>status</th></tr>${body}</table></body></html>`;
}

/** Appends fields to a URL's query string (the GET return shape). */
export function withQuery(target: string, fields: Record<string, string>): string {
  const u = new URL(target);
  for (const [k, v] of Object.entries(fields)) u.searchParams.set(k, v);
  return u.toString();
}

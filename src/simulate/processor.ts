/**
 * The shopper's side of the processors, as a browser or a payment SDK would do it against the
 * processor simulator: the Webpay form, the Oneclick inscription form, Mercado Pago card
 * tokens, and the simulator's control API (pay a cash voucher, expire it, charge back).
 */
import type { HttpClient } from './http-client.js';

/** Test cards the simulator knows (Transbank's integration cards, Mercado Pago's test card). */
export const CARDS = { visaApprove: '4051885600446623', masterReject: '5186059559590568', mercadoPago: '5416752602582580' } as const;

export async function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/**
 * The shopper's side of the processors. `client` (the live driver's kept-alive one) serves the
 * calls made once per order; without it they go through `fetch`.
 */
export function processorClient(simUrl: string, client?: HttpClient) {
  const send = async (url: string, method: string, contentType: string, body: string): Promise<{ status: number; text: string; location?: string }> => {
    if (client) {
      const res = await client.request(url, { method, headers: { 'content-type': contentType }, body, timeoutMs: 30_000 });
      const location = res.headers.location;
      return { status: res.status, text: res.text, ...(location ? { location } : {}) };
    }
    const res = await fetch(url, { method, headers: { 'content-type': contentType }, body, redirect: 'manual' });
    const location = res.headers.get('location');
    return { status: res.status, text: await res.text(), ...(location ? { location } : {}) };
  };
  const form = (url: string, fields: Record<string, string>) => send(url, 'POST', 'application/x-www-form-urlencoded', new URLSearchParams(fields).toString());
  const control = async (path: string, body: unknown = {}) => {
    const res = await send(`${simUrl}${path}`, 'POST', 'application/json', JSON.stringify(body));
    if (res.status < 200 || res.status > 299) throw new Error(`simulator ${path} answered ${res.status}: ${res.text.slice(0, 200)}`);
    return res.text;
  };
  return {
    /** The shopper on the Webpay form; returns the return URL Webpay sends the browser to. */
    async webpayPay(redirect: { url: string; token: string }, card: string): Promise<string> {
      await form(redirect.url, { token_ws: redirect.token });
      const res = await form(`${simUrl}/webpayserver/pay`, { token_ws: redirect.token, card_number: card, cvv: '123', expiry: '12/30', action: 'pay' });
      if (res.status !== 303 || !res.location) throw new Error(`webpay form answered ${res.status}`);
      return res.location;
    },
    /** The shopper on the Oneclick inscription form. */
    async inscribe(start: { url: string; token: string }, card: string): Promise<void> {
      await form(start.url, { TBK_TOKEN: start.token });
      const res = await form(`${simUrl}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: start.token, card_number: card, cvv: '123', expiry: '12/30', action: 'pay' });
      if (res.status !== 303) throw new Error(`inscription form answered ${res.status}`);
    },
    /** A Mercado Pago card token, as the browser SDK makes it: the card number goes to the processor only. */
    async mpCardToken(holder: string): Promise<string> {
      const res = await send(`${simUrl}/v1/card_tokens?public_key=TEST-public`, 'POST', 'application/json', JSON.stringify({
        card_number: CARDS.mercadoPago, expiration_month: 11, expiration_year: 2030, security_code: '123',
        cardholder: { name: holder, identification: { type: 'RUT', number: '111111111' } },
      }));
      const body = (res.text ? JSON.parse(res.text) : {}) as { id?: unknown };
      if (res.status < 200 || res.status > 299 || typeof body.id !== 'string') throw new Error(`card token refused (${res.status})`);
      return body.id;
    },
    payCash: (mpPaymentId: string) => control(`/sim/mp/payments/${encodeURIComponent(mpPaymentId)}/pay`),
    expireCash: (mpPaymentId: string) => control(`/sim/mp/payments/${encodeURIComponent(mpPaymentId)}/expire`),
    chargeback: (mpPaymentId: string) => control(`/sim/mp/payments/${encodeURIComponent(mpPaymentId)}/chargeback`),
    control,
  };
}

export type ProcessorClient = ReturnType<typeof processorClient>;

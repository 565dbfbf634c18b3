/**
 * The shopper's side of the processors, as a browser or a payment SDK would do it against the
 * processor simulator: the Webpay form, the Oneclick inscription form, Mercado Pago card
 * tokens, and the simulator's control API (pay a cash voucher, expire it, charge back).
 */

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

export function processorClient(simUrl: string) {
  const control = async (path: string, body: unknown = {}) => {
    const res = await fetch(`${simUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${path} answered ${res.status}: ${text.slice(0, 200)}`);
    return text;
  };
  return {
    /** The shopper on the Webpay form; returns the return URL Webpay sends the browser to. */
    async webpayPay(redirect: { url: string; token: string }, card: string): Promise<string> {
      await (await postForm(redirect.url, { token_ws: redirect.token })).text();
      const res = await postForm(`${simUrl}/webpayserver/pay`, { token_ws: redirect.token, card_number: card, cvv: '123', expiry: '12/30', action: 'pay' });
      await res.text();
      const location = res.headers.get('location');
      if (res.status !== 303 || !location) throw new Error(`webpay form answered ${res.status}`);
      return location;
    },
    /** The shopper on the Oneclick inscription form. */
    async inscribe(start: { url: string; token: string }, card: string): Promise<void> {
      await (await postForm(start.url, { TBK_TOKEN: start.token })).text();
      const res = await postForm(`${simUrl}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: start.token, card_number: card, cvv: '123', expiry: '12/30', action: 'pay' });
      await res.text();
      if (res.status !== 303) throw new Error(`inscription form answered ${res.status}`);
    },
    /** A Mercado Pago card token, as the browser SDK makes it: the card number goes to the processor only. */
    async mpCardToken(holder: string): Promise<string> {
      const res = await fetch(`${simUrl}/v1/card_tokens?public_key=TEST-public`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          card_number: CARDS.mercadoPago, expiration_month: 11, expiration_year: 2030, security_code: '123',
          cardholder: { name: holder, identification: { type: 'RUT', number: '111111111' } },
        }),
      });
      const body = (await res.json()) as { id?: unknown };
      if (!res.ok || typeof body.id !== 'string') throw new Error(`card token refused (${res.status})`);
      return body.id;
    },
    payCash: (mpPaymentId: string) => control(`/sim/mp/payments/${encodeURIComponent(mpPaymentId)}/pay`),
    expireCash: (mpPaymentId: string) => control(`/sim/mp/payments/${encodeURIComponent(mpPaymentId)}/expire`),
    chargeback: (mpPaymentId: string) => control(`/sim/mp/payments/${encodeURIComponent(mpPaymentId)}/chargeback`),
    control,
  };
}

export type ProcessorClient = ReturnType<typeof processorClient>;

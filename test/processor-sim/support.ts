import tbk from 'transbank-sdk';
import { manualClock } from '../../src/platform/clock.js';
import type { Database } from '../../src/platform/db.js';
import { startProcessorSim, type ProcessorSim, type SimSettings } from '../../src/processor-sim/index.js';

export const { WebpayPlus, Oneclick, Options, IntegrationCommerceCodes, IntegrationApiKeys, TransactionDetail } = tbk;

export const MP_TOKEN = 'TEST-access-token-for-tests';
export const MP_SECRET = 'test-webhook-secret';

/** A simulator on a free port with a manual clock. */
export async function startSim(db?: Database, settings: Partial<SimSettings> = {}) {
  const clock = manualClock(new Date('2026-11-27T15:00:00Z'));
  const sim: ProcessorSim = await startProcessorSim({
    port: 0,
    ...(db ? { db } : {}),
    clock,
    mpAccessToken: MP_TOKEN,
    mpWebhookSecret: MP_SECRET,
    settings,
    tickMs: 0,
  });
  return { sim, clock };
}

export function webpay(url: string, code: string = IntegrationCommerceCodes.WEBPAY_PLUS) {
  return new WebpayPlus.Transaction(new Options(code, IntegrationApiKeys.WEBPAY, url));
}

/** Posts a form the way a browser would, without following redirects. */
export async function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/** The query fields of the 303 back to return_url. */
export function returned(res: Response): Record<string, string> {
  const location = res.headers.get('location');
  if (res.status !== 303 || !location) throw new Error(`expected a 303 back to the merchant, got ${res.status}`);
  return Object.fromEntries(new URL(location).searchParams);
}

/** Shopper opens the Webpay form and pays (or aborts) with a card; returns the hand-back fields. */
export async function shopperPays(simUrl: string, created: { token: string; url: string }, card: string, action = 'pay') {
  const form = await postForm(created.url, { token_ws: created.token });
  if (form.status !== 200) throw new Error(`form page answered ${form.status}`);
  await form.text();
  return returned(await postForm(`${simUrl}/webpayserver/pay`, { token_ws: created.token, card_number: card, cvv: '123', expiry: '12/30', action }));
}

export const VISA_OK = '4051885600446623';
export const MASTER_REJECT = '5186059559590568';

/** Expects a promise to fail with a TransbankError carrying this HTTP status and message. */
export async function tbkFails(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (!text.includes(`status code ${status}`) || !message.test(text)) throw new Error(`unexpected error: ${text}`);
    return;
  }
  throw new Error('expected a TransbankError');
}

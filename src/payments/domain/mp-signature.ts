import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignatureInput {
  /** The `x-signature` header: `ts=<seconds>,v1=<hex>`. */
  signature: string | undefined;
  /** The `x-request-id` header. */
  requestId: string | undefined;
  /** `data.id` from the query string. */
  dataId: string | undefined;
  secret: string;
  now: Date;
  toleranceSeconds?: number;
}

export type SignatureCheck = { ok: true; ts: number } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' | 'stale' };

/** The manifest Mercado Pago signs: `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`. */
export function mpManifest(dataId: string, requestId: string, ts: string): string {
  // MP lower-cases alphanumeric ids before signing.
  const id = /^[A-Za-z0-9]+$/.test(dataId) ? dataId.toLowerCase() : dataId;
  return `id:${id};request-id:${requestId};ts:${ts};`;
}

export function mpSign(secret: string, dataId: string, requestId: string, ts: string): string {
  return createHmac('sha256', secret).update(mpManifest(dataId, requestId, ts)).digest('hex');
}

/**
 * Verifies a Mercado Pago webhook signature: HMAC-SHA256 of the manifest with the webhook
 * secret, compared in constant time, with a timestamp tolerance against replays.
 *
 * @example
 * verifyMpSignature({ signature: req.headers['x-signature'], requestId, dataId, secret, now });
 */
export function verifyMpSignature(input: SignatureInput): SignatureCheck {
  const { signature, requestId, dataId } = input;
  if (!signature || !requestId || !dataId) return { ok: false, reason: 'missing' };
  const parts = new Map<string, string>();
  for (const piece of signature.split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) parts.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
  }
  const ts = parts.get('ts');
  const v1 = parts.get('v1');
  if (!ts || !v1 || !/^\d{1,16}$/.test(ts) || !/^[0-9a-f]{64}$/i.test(v1)) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(mpSign(input.secret, dataId, requestId, ts), 'hex');
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'mismatch' };
  // MP sends seconds; tolerate milliseconds too.
  const tsNum = Number(ts);
  const tsMs = tsNum > 1e12 ? tsNum : tsNum * 1000;
  const tolerance = (input.toleranceSeconds ?? 300) * 1000;
  if (Math.abs(input.now.getTime() - tsMs) > tolerance) return { ok: false, reason: 'stale' };
  return { ok: true, ts: tsNum };
}

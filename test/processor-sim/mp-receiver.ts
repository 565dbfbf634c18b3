// A merchant's webhook receiver written from Mercado Pago's documentation, independent of the
// simulator's code: parse `x-signature: ts=...,v1=...`, rebuild the manifest
// `id:<data.id from the query>;request-id:<x-request-id>;ts:<ts>;`, HMAC-SHA256 it with the
// secret and compare in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

export interface Received {
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: { action: string; type: string; data: { id: string }; id: number; live_mode: boolean; api_version: string };
  signatureValid: boolean;
}

export function verifyMpSignature(secret: string, xSignature: string | undefined, xRequestId: string | undefined, dataId: string | undefined): boolean {
  if (!xSignature) return false;
  let ts: string | undefined;
  let v1: string | undefined;
  for (const part of xSignature.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k === 'ts') ts = v;
    if (k === 'v1') v1 = v;
  }
  if (!ts || !v1) return false;
  const id = dataId && /^[a-z0-9]+$/i.test(dataId) ? dataId.toLowerCase() : dataId;
  let manifest = '';
  if (id) manifest += `id:${id};`;
  if (xRequestId) manifest += `request-id:${xRequestId};`;
  manifest += `ts:${ts};`;
  const expected = createHmac('sha256', secret).update(manifest).digest('hex');
  return expected.length === v1.length && timingSafeEqual(Buffer.from(expected), Buffer.from(v1));
}

/** A receiver on a free port; `answer` decides each response's status (default 200). */
export async function startReceiver(secret: string) {
  const received: Received[] = [];
  const plan: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const query = Object.fromEntries(url.searchParams);
      const header = (n: string) => {
        const v = req.headers[n];
        return typeof v === 'string' ? v : undefined;
      };
      received.push({
        query,
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'],
        signatureValid: verifyMpSignature(secret, header('x-signature'), header('x-request-id'), query['data.id']),
      });
      res.statusCode = plan.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/webhooks/mercadopago`,
    received,
    /** The next answers, in order (e.g. [500, 500] then 200s). */
    answerNext: (...statuses: number[]) => plan.push(...statuses),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

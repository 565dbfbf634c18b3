import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Payments } from '../../src/payments/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Starts the processor simulator as a child process; resolves once it listens. */
export function startSimProcess(env: Record<string, string>, nodeArgs: string[] = []): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'bench/checkout/sim-process.ts')], {
    cwd: ROOT, env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`simulator exited (${code}) before listening`)));
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const { url } = JSON.parse(line) as { url: string };
      resolve({
        url,
        pid: child.pid,
        stop: () => new Promise<void>((done) => {
          child.removeAllListeners('exit');
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    });
  });
}

function form(url: string, fields: Record<string, string>) {
  return fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}

/** Enrolls a Oneclick card for each customer through the inscription flow; returns customer → card id. */
export async function enrollCards(payments: Payments, simUrl: string, customerIds: string[]): Promise<Map<string, string>> {
  const cards = new Map<string, string>();
  for (const customerId of customerIds) {
    const start = await payments.cards.startInscription({ customerId, email: 'bench@example.cl', returnUrl: 'http://shop.test/cards' });
    await (await form(start.url, { TBK_TOKEN: start.token })).text();
    const res = await form(`${simUrl}/webpayserver/bp_inscription_submit`, { TBK_TOKEN: start.token, card_number: '4051885600446623', cvv: '123', expiry: '12/30', action: 'pay' });
    await res.text();
    await (await fetch(res.headers.get('location') ?? '', { redirect: 'manual' })).text();
    const [card] = await payments.cards.list(customerId);
    if (!card) throw new Error(`no card enrolled for ${customerId}`);
    cards.set(customerId, card.id);
  }
  return cards;
}

import { Worker } from 'node:worker_threads';

export interface Job {
  token: string;
  cartId: string;
  body: string;
}

export interface LoadResult {
  latenciesMs: number[];
  statuses: Record<string, number>;
  errors: string[];
  elapsedMs: number;
  done: number;
  /** Jobs used (answered or not): the next run starts after them. */
  sent: number;
  /** Per second of the run: checkouts completed and the slowest one (ms). */
  timeline: { n: number; maxMs: number }[];
  /** CPU time of the load generator's own thread over the run (ms; Linux). */
  cpuMs: number;
}

// The load generator runs in its own thread (its own event loop) so it does not steal the
// server's loop; plain JS over node:http with keep-alive, a fixed number of connections.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { randomUUID } = require('node:crypto');
const { port, jobs, concurrency, durationMs, rate } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const latencies = [];
const statuses = {};
const timeline = [];
const errors = [];
let next = 0;
// This thread's own CPU time (utime + stime, 10 ms ticks), so the bench can say what the load
// generator costs the machine it shares with the server.
function threadCpuMs() {
  try {
    const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch { return 0; }
}
const cpu0 = threadCpuMs();
const started = performance.now();
function post(job, t0 = performance.now()) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/carts/' + job.cartId + '/checkout', agent,
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + job.token, 'idempotency-key': randomUUID(), 'content-length': Buffer.byteLength(job.body) } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { data += c; });
        res.on('end', () => {
          const t1 = performance.now();
          latencies.push(t1 - t0);
          const sec = Math.floor((t1 - started) / 1000);
          const slot = (timeline[sec] ??= { n: 0, maxMs: 0 });
          slot.n++;
          slot.maxMs = Math.max(slot.maxMs, Math.round(t1 - t0));
          let outcome = String(res.statusCode);
          if (res.statusCode === 201) {
            try { const b = JSON.parse(data); outcome += ':' + b.payment.status; } catch { outcome += ':unparsable'; }
          } else if (errors.length < 10) errors.push(res.statusCode + ' ' + data.slice(0, 300));
          statuses[outcome] = (statuses[outcome] || 0) + 1;
          resolve();
        });
      });
    req.on('error', (err) => { statuses.neterr = (statuses.neterr || 0) + 1; if (errors.length < 10) errors.push(String(err)); resolve(); });
    req.end(job.body);
  });
}
async function loop() {
  while (next < jobs.length && performance.now() - started < durationMs) await post(jobs[next++]);
}
// Open loop: arrivals on a fixed schedule whatever the answers, each timed from its scheduled
// start (a late sender does not hide the wait: no coordinated omission); at most
// \`concurrency\` requests outstanding, more arrivals queue in the agent.
async function arrivals() {
  const pending = [];
  const gapMs = 1000 / rate;
  for (let i = 0; next < jobs.length; i++) {
    const at = started + i * gapMs;
    if (at - started >= durationMs) break;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(post(jobs[next++], at));
  }
  await Promise.all(pending);
}
(rate > 0 ? arrivals() : Promise.all(Array.from({ length: concurrency }, loop))).then(() => {
  parentPort.postMessage({ latenciesMs: latencies, statuses, errors, elapsedMs: performance.now() - started, done: latencies.length, sent: next, timeline: Array.from(timeline, (t) => t ?? { n: 0, maxMs: 0 }), cpuMs: threadCpuMs() - cpu0 });
  agent.destroy();
});
`;

/**
 * Fires the checkout jobs at the server for at most `durationMs`: closed loop, `concurrency`
 * connections each sending its next request when the last one is answered; or, with `rate`,
 * open loop: `rate` arrivals a second on a fixed schedule, at most `concurrency` outstanding.
 */
export function runLoad(port: number, jobs: Job[], concurrency: number, durationMs: number, rate = 0): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SOURCE, { eval: true, workerData: { port, jobs, concurrency, durationMs, rate } });
    worker.once('message', (m: LoadResult) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

// The processor simulator in its own process for the benchmark (a real processor is
// elsewhere too): prints {"url": ...} once listening, stops on SIGTERM.
import { startProcessorSim } from '../../src/processor-sim/index.js';

const sim = await startProcessorSim({
  port: 0,
  mpAccessToken: process.env.MP_ACCESS_TOKEN ?? '',
  mpWebhookSecret: process.env.MP_WEBHOOK_SECRET ?? '',
  // A load test buys many times with each saved card: Oneclick's per-card daily count and
  // amount limits (10 payments, 2,000,000 CLP) would reject most of them.
  settings: process.env.SIM_UNLIMITED === '1' ? { oneclickDailyCount: 1_000_000_000, oneclickDailyAmount: 1_000_000_000_000 } : {},
});
process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);
process.on('SIGTERM', () => {
  void sim.close().then(() => process.exit(0));
});

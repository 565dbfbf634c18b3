import type { Logger } from '../platform/log.js';
import type { Worker } from '../platform/worker.js';

/** What one iteration reports: run again at once, after a delay, or at the idle interval. */
export type Next = 'more' | 'idle' | { inMs: number };

export interface Loop extends Worker {
  /** Runs an iteration as soon as possible; a wake during an iteration runs one more after it. */
  wake(): void;
  readonly running: boolean;
}

/**
 * Like the platform's `intervalWorker`, but a wake arriving mid-iteration is not lost (the
 * next iteration starts right after), which keeps commit-to-handler latency at a few ms.
 */
export function wakeableLoop(
  name: string,
  idleMs: number,
  logger: Logger,
  iteration: () => Promise<Next>,
  hooks: { onStart?: () => void; onStop?: () => Promise<void> } = {},
): Loop {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = true;
  let woken = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  const run = () => {
    if (current || stopped) return;
    woken = false;
    current = (async () => {
      let next: Next = 'idle';
      try {
        next = await iteration();
      } catch (err) {
        logger.error({ err, worker: name }, 'worker iteration failed');
        next = { inMs: Math.max(idleMs, 1000) };
      } finally {
        current = undefined;
        if (next === 'more' || woken) schedule(0);
        else schedule(next === 'idle' ? idleMs : next.inMs);
      }
    })();
  };

  return {
    name,
    get running() {
      return !stopped;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      hooks.onStart?.();
      schedule(0);
    },
    wake() {
      if (stopped) return;
      if (current) woken = true;
      else schedule(0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await current;
      await hooks.onStop?.();
    },
  };
}

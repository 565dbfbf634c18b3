import type { Logger } from '../platform/log.js';
import type { Worker } from '../platform/worker.js';

/**
 * What one iteration reports: run again at once, after a delay, or at the idle interval.
 * `blocked`: committed events wait behind a running transaction (the commit-safe horizon);
 * the delay is a re-poll for when it ends, and `wakeIfBlocked` cuts it short.
 */
export type Next = 'more' | 'idle' | { inMs: number; blocked?: boolean };

export interface Loop extends Worker {
  /** Runs an iteration as soon as possible; a wake during an iteration runs one more after it. */
  wake(): void;
  /**
   * Like `wake`, but only for a loop whose last iteration found events blocked (waiting for a
   * re-poll): a transaction of this process that may have held the horizon just ended.
   */
  wakeIfBlocked(): void;
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
  /** Waiting for a blocked re-poll. */
  let blockedWait = false;
  /** wakeIfBlocked() arrived during the iteration. */
  let blockedWake = false;

  const schedule = (ms: number, blocked = false) => {
    if (stopped) return;
    clearTimeout(timer);
    blockedWait = blocked;
    timer = setTimeout(run, ms);
  };
  const run = () => {
    if (current || stopped) return;
    woken = false;
    blockedWake = false;
    current = (async () => {
      let next: Next = 'idle';
      try {
        next = await iteration();
      } catch (err) {
        logger.error({ err, worker: name }, 'worker iteration failed');
        next = { inMs: Math.max(idleMs, 1000) };
      } finally {
        current = undefined;
        const blocked = typeof next === 'object' && next.blocked === true;
        if (next === 'more' || woken || (blocked && blockedWake)) schedule(0);
        else if (next === 'idle') schedule(idleMs);
        else schedule(next.inMs, blocked);
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
    wakeIfBlocked() {
      if (stopped) return;
      if (current) blockedWake = true;
      else if (blockedWait) schedule(0);
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

import { isAppError } from './errors.js';
import type { Logger } from './log.js';

/** A background loop (relay, sweeper, janitor, ETL) started and stopped with the process. */
export interface Worker {
  name: string;
  start(): void;
  /** Resolves once the current iteration has finished; no new one starts. */
  stop(): Promise<void>;
}

/**
 * A worker that runs `tick` every `intervalMs` (and again at once when it reports more work),
 * never overlapping itself, logging failures and carrying on.
 *
 * @example
 * const sweeper = intervalWorker('inventory-sweeper', 1000, logger, () => sweepExpired(db));
 */
export function intervalWorker(
  name: string,
  intervalMs: number,
  logger: Logger,
  tick: () => Promise<boolean | void>,
): Worker & { wake(): void } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  const schedule = (delay: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, delay);
  };
  const run = () => {
    if (running || stopped) return;
    running = (async () => {
      let more = false;
      try {
        more = (await tick()) === true;
      } catch (err) {
        // A database failover is expected to interrupt a few iterations: not an error.
        if (isAppError(err) && err.kind === 'unavailable') logger.warn({ worker: name, reason: err.message }, 'worker waiting for the database');
        else logger.error({ err, worker: name }, 'worker iteration failed');
      } finally {
        running = undefined;
        schedule(more ? 0 : intervalMs);
      }
    })();
  };

  return {
    name,
    start() {
      stopped = false;
      schedule(0);
    },
    wake() {
      if (!running) schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

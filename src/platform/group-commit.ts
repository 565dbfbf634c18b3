/** Options of a group commit. */
export interface GroupCommitOptions<I = unknown> {
  /** Most items written by one batch. */
  maxBatch?: number;
  /** Batches in flight at once. */
  maxInFlight?: number;
  /**
   * At most one item per key in a batch (`write` answers each key once, e.g. one row per id in
   * one statement); a later item with a key already in the batch waits for a following batch.
   */
  key?: (item: I) => string;
}

/**
 * Group commit: concurrent callers queue their item; one call of `write` (one transaction)
 * handles a whole batch and each caller gets its own answer once that batch is done. Items
 * submitted in the same turn of the event loop join the same batch. If a batch fails as a
 * whole, its items are written one by one so one bad item cannot fail the others; `write`
 * should return per-item failures as values rather than throw for them.
 *
 * @example
 * const place = groupCommit((drafts: Draft[]) => db.transaction((tx) => insertAll(tx, drafts)));
 * const answer = await place(draft);
 */
export function groupCommit<I, O>(
  write: (items: I[]) => Promise<O[]>, options: GroupCommitOptions<I> = {},
): (item: I) => Promise<O> {
  const maxBatch = options.maxBatch ?? 128;
  const maxInFlight = options.maxInFlight ?? 2;
  const key = options.key;
  let queue: { item: I; resolve(o: O): void; reject(err: unknown): void }[] = [];
  let inFlight = 0;
  let scheduled = false;

  const one = async (p: (typeof queue)[number]) => {
    try {
      const [o] = await write([p.item]);
      p.resolve(o as O);
    } catch (err) {
      p.reject(err);
    }
  };

  const run = async (batch: typeof queue) => {
    let answers: O[];
    try {
      answers = await write(batch.map((p) => p.item));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]?.reject(err);
        return;
      }
      for (const p of batch) await one(p);
      return;
    }
    batch.forEach((p, i) => p.resolve(answers[i] as O));
  };

  const pump = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      let batch: typeof queue;
      if (key) {
        // Queue order kept; an item whose key is in the batch already stays queued.
        const keys = new Set<string>();
        const rest: typeof queue = [];
        batch = [];
        for (const p of queue) {
          const k = key(p.item);
          if (batch.length < maxBatch && !keys.has(k)) {
            keys.add(k);
            batch.push(p);
          } else rest.push(p);
        }
        queue = rest;
      } else {
        batch = queue.slice(0, maxBatch);
        queue = queue.slice(maxBatch);
      }
      inFlight++;
      void run(batch).finally(() => {
        inFlight--;
        schedule();
      });
    }
  };
  const schedule = () => {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    setImmediate(pump);
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      schedule();
    });
}

/**
 * In-process wake-ups for order status streams: whoever learns that an order changed (a
 * transition committed here, or the event bus's after-commit fan-out) calls `notify`; each
 * SSE stream of that order re-reads the read model and pushes if the version moved.
 *
 * `onActive(true)` is called when the first stream opens and `onActive(false)` when the last
 * one closes, so the bus's fan-out (which reads every event of the outbox) runs only while
 * somebody watches.
 */
export function createStatusWatch(hooks: { onActive?: (active: boolean) => void } = {}) {
  const listeners = new Map<string, Set<() => void>>();
  let open = 0;
  return {
    subscribe(orderId: string, listener: () => void): () => void {
      let set = listeners.get(orderId);
      if (!set) listeners.set(orderId, (set = new Set()));
      set.add(listener);
      if (++open === 1) hooks.onActive?.(true);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        set.delete(listener);
        if (set.size === 0) listeners.delete(orderId);
        if (--open === 0) hooks.onActive?.(false);
      };
    },
    notify(orderId: string): void {
      for (const listener of listeners.get(orderId) ?? []) listener();
    },
    /** Open streams (for metrics and tests). */
    size(): number {
      let n = 0;
      for (const set of listeners.values()) n += set.size;
      return n;
    },
  };
}

export type StatusWatch = ReturnType<typeof createStatusWatch>;

/**
 * In-process wake-ups for order status streams: whoever learns that an order changed (a
 * transition committed here, or the event bus's after-commit fan-out) calls `notify`; each
 * SSE stream of that order re-reads the read model and pushes if the version moved.
 */
export function createStatusWatch() {
  const listeners = new Map<string, Set<() => void>>();
  return {
    subscribe(orderId: string, listener: () => void): () => void {
      let set = listeners.get(orderId);
      if (!set) listeners.set(orderId, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(orderId);
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

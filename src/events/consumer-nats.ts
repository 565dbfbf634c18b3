import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Db } from '../platform/db.js';
import { wakeableLoop, type Loop, type Next } from './loop.js';
import { applyInTx, backoff, deadLetter, processReplays, type ConsumerDeps, type ConsumerSpec, type InboxWrite } from './consumer.js';
import { consumerBindings, decodeWire, pullDurable, type NatsLink } from './nats.js';
import { typeFilter } from './reader.js';
import type { EventEnvelope } from './outbox.js';

/** Where a NATS-mode consumer records its progress (for lag only; JetStream acks are the truth). */
export function natsPositionName(consumer: string): string {
  return `${consumer}@nats`;
}

/** Moves the lag record forward only (batches can commit out of order after redeliveries). */
const recordPosition = (consumer: string, txId: string, seq: string) =>
  `INSERT INTO events_positions (consumer, tx_id, event_seq) VALUES (${consumer}, ${txId}::xid8, ${seq})
   ON CONFLICT (consumer) DO UPDATE SET tx_id = excluded.tx_id, event_seq = excluded.event_seq, updated_at = now()
    WHERE (events_positions.tx_id, events_positions.event_seq) < (excluded.tx_id, excluded.event_seq)`;

/** How long requested replays may wait for a gap between messages. */
const REPLAYS_UNDER_LOAD_MS = 10_000;

interface Item {
  msg: JsMsg;
  event: EventEnvelope;
  txId: string;
}

/**
 * The NATS-mode consumer: a durable pull consumer per stream the types touch; each batch of
 * messages is applied in one transaction with its inbox rows, then acknowledged. A crash
 * after commit and before the ack redelivers, and the inbox drops the repeat.
 */
export function natsConsumer(
  deps: ConsumerDeps & { link: () => Promise<NatsLink>; ackWaitMs?: number },
  spec: ConsumerSpec,
  idleMs: number,
  hooks: { beforeAck?: (items: readonly EventEnvelope[]) => Promise<void> | void } = {},
): Loop {
  const filter = typeFilter(spec.types);
  const limit = spec.batchSize ?? 200;
  const maxAttempts = spec.maxAttempts ?? 5;
  const buffer: JsMsg[] = [];
  const subscriptions: ConsumerMessages[] = [];
  let replaysAt = 0;

  const newest = (items: Item[]) =>
    items.reduce((a, b) => (BigInt(b.txId) > BigInt(a.txId) || (b.txId === a.txId && b.event.seq > a.event.seq) ? b : a));
  /** Records the newest item's place for lag (JetStream acks are the truth; this is for lag only). */
  const record = async (db: Db, items: Item[]) => {
    const last = newest(items);
    await db.query(recordPosition('$1', '$2', '$3'), [natsPositionName(spec.name), last.txId, last.event.seq]);
  };
  /** The inbox write with the lag record folded in: the batch's transaction costs no extra round trip for it. */
  const inboxWithRecord = (items: Item[]): InboxWrite => {
    const last = newest(items);
    return {
      sql: `WITH recorded AS (${recordPosition('$3', '$4', '$5')})
        INSERT INTO events_inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])
        ON CONFLICT DO NOTHING RETURNING event_id`,
      params: [natsPositionName(spec.name), last.txId, last.event.seq],
    };
  };

  const iteration = async (): Promise<Next> => {
    // Requested replays are looked for between messages, not ahead of them (the query's round
    // trip would delay the batch waiting behind it), unless a steady stream never leaves a gap.
    const sinceReplays = Date.now() - replaysAt;
    if ((buffer.length === 0 && sinceReplays > 1000) || sinceReplays > REPLAYS_UNDER_LOAD_MS) {
      replaysAt = Date.now();
      await processReplays(deps, spec);
    }
    const msgs = buffer.splice(0, limit);
    if (msgs.length === 0) return 'idle';
    const items: Item[] = msgs.map((msg) => ({ msg, ...decodeWire(msg) }));
    let applied = false;
    try {
      await deps.db.transaction((tx) => applyInTx(tx, spec, items.map((i) => i.event), inboxWithRecord(items)));
      applied = true;
    } catch {
      // Fall back to one by one so one poison message does not hold the others.
    }
    if (applied) {
      // A failure between commit and ack (a crash) leaves the messages to be redelivered.
      await hooks.beforeAck?.(items.map((i) => i.event));
      for (const i of items) i.msg.ack();
      done(items);
      return 'more';
    }
    for (const item of items) {
      try {
        await deps.db.transaction((tx) => applyInTx(tx, spec, [item.event]));
      } catch (err) {
        deps.metrics.handlerErrors.inc({ consumer: spec.name, type: item.event.type });
        const attempts = item.msg.info.deliveryCount;
        if (attempts >= maxAttempts) {
          await deps.db.transaction((tx) => deadLetter(tx, spec.name, item.event, err, attempts));
          item.msg.term();
          deps.metrics.deadLetters.inc({ consumer: spec.name, type: item.event.type });
          deps.logger.error({ err, consumer: spec.name, eventId: item.event.id, attempts }, 'event dead-lettered');
        } else {
          item.msg.nak(backoff(spec, attempts));
          deps.logger.warn({ err, consumer: spec.name, eventId: item.event.id, attempts }, 'handler failed; will retry');
        }
        continue;
      }
      await hooks.beforeAck?.([item.event]);
      item.msg.ack();
      done([item]);
    }
    await record(deps.db, items);
    return 'more';
  };

  const done = (items: Item[]) => {
    deps.committed?.(loop);
    deps.trace?.('handled', items.map((i) => i.event.id), performance.now());
    const now = Date.now();
    for (const i of items) {
      deps.metrics.handled.inc({ consumer: spec.name, type: i.event.type });
      deps.metrics.handleDelay.observe({ consumer: spec.name }, Math.max(0, now - i.event.occurredAt.getTime()) / 1000);
    }
  };

  const loop: Loop = wakeableLoop(`events-consumer:${spec.name}`, idleMs, deps.logger, iteration, {
    onStart: () => {
      const bind = async (): Promise<void> => {
        try {
          const link = await deps.link();
          for (const binding of await consumerBindings(link, filter)) {
            subscriptions.push(
              ...await pullDurable(link, binding, spec.name, (m) => {
                buffer.push(m);
                if (deps.trace) deps.trace('received', [m.headers?.get('Nats-Msg-Id') ?? ''], performance.now());
                loop.wake();
              }, deps.ackWaitMs ?? 30_000),
            );
          }
        } catch (err) {
          deps.logger.error({ err, consumer: spec.name }, 'could not start the JetStream consumer; retrying');
          for (const s of subscriptions.splice(0)) await s.close().catch(() => undefined);
          if (loop.running) setTimeout(() => void bind(), 2000).unref();
        }
      };
      void bind();
    },
    onStop: async () => {
      for (const s of subscriptions.splice(0)) await s.close().catch(() => undefined);
      buffer.length = 0;
    },
  });
  return loop;
}

import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { Logger } from '../platform/log.js';
import type { EventEnvelope } from './outbox.js';
import type { TypeFilter } from './reader.js';

/** One NATS connection with its JetStream handles; streams are created on first use. */
export interface NatsLink {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  ensureStream(context: string): Promise<string>;
  close(): Promise<void>;
}

/** The stream holding one context's events, e.g. `EMBUDO_INVENTORY`. */
export function streamName(context: string): string {
  return `EMBUDO_${context.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** `inventory.stock_changed` → `embudo.inventory.stock_changed`. */
export function subjectOf(type: string): string {
  return `embudo.${type}`;
}

/** JetStream durable names allow no dots or spaces. */
export function durableName(consumer: string): string {
  return consumer.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** What travels on the wire: the envelope plus the outbox transaction id (for lag bookkeeping). */
export interface WireEvent extends Omit<EventEnvelope, 'occurredAt'> {
  occurredAt: string;
  txId: string;
}

export function decodeWire(msg: JsMsg): { event: EventEnvelope; txId: string } {
  const { txId, ...rest } = msg.json<WireEvent>();
  return { event: { ...rest, occurredAt: new Date(rest.occurredAt) }, txId };
}

export async function connectNats(url: string, logger: Logger, name = 'embudo'): Promise<NatsLink> {
  const nc = await connect({ servers: url, name, maxReconnectAttempts: -1 });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const known = new Map<string, Promise<string>>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') logger.warn({ nats: s.type }, 'NATS connection status');
    }
  })();
  return {
    nc,
    js,
    jsm,
    ensureStream(context) {
      let p = known.get(context);
      if (!p) {
        const name = streamName(context);
        p = (async () => {
          try {
            await jsm.streams.info(name);
          } catch {
            try {
              await jsm.streams.add({ name, subjects: [`embudo.${context}.>`], duplicate_window: nanos(120_000) });
            } catch (err) {
              // Another process created it in between.
              await jsm.streams.info(name).catch(() => {
                throw err;
              });
            }
          }
          return name;
        })();
        p.catch(() => known.delete(context));
        known.set(context, p);
      }
      return p;
    },
    async close() {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

/** The streams and filter subjects a consumer's type patterns need. */
export async function consumerBindings(link: NatsLink, filter: TypeFilter): Promise<{ stream: string; subjects: string[] }[]> {
  const byContext = new Map<string, string[]>();
  if (filter.all) {
    for await (const name of link.jsm.streams.names()) {
      if (!name.startsWith('EMBUDO_')) continue;
      const info = await link.jsm.streams.info(name);
      byContext.set(info.config.subjects?.[0]?.split('.')[1] ?? name, info.config.subjects ?? []);
    }
  }
  for (const ctx of filter.contexts) byContext.set(ctx, [`embudo.${ctx}.>`]);
  for (const type of filter.exact) {
    const ctx = type.slice(0, type.indexOf('.'));
    const subjects = byContext.get(ctx) ?? [];
    if (!subjects.includes(`embudo.${ctx}.>`)) subjects.push(subjectOf(type));
    byContext.set(ctx, subjects);
  }
  const out: { stream: string; subjects: string[] }[] = [];
  for (const [ctx, subjects] of byContext) out.push({ stream: await link.ensureStream(ctx), subjects });
  return out;
}

/**
 * Creates (or updates) the durable pull consumers and starts pulling into `onMessage`: one
 * per filter subject (a single `filter_subject` works on every JetStream server; several
 * `filter_subjects` need 2.10). `ack_wait` bounds how long a crashed process holds a message.
 */
export async function pullDurable(
  link: NatsLink,
  binding: { stream: string; subjects: string[] },
  consumer: string,
  onMessage: (msg: JsMsg) => void,
  ackWaitMs: number,
): Promise<ConsumerMessages[]> {
  const out: ConsumerMessages[] = [];
  for (const subject of binding.subjects) {
    const durable = binding.subjects.length === 1 ? durableName(consumer) : durableName(`${consumer}__${subject}`);
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subject,
      ack_wait: nanos(ackWaitMs),
      max_ack_pending: 5000,
    };
    try {
      await link.jsm.consumers.add(binding.stream, config);
    } catch {
      await link.jsm.consumers.update(binding.stream, durable, { filter_subject: subject, ack_wait: config.ack_wait });
    }
    const c = await link.js.consumers.get(binding.stream, durable);
    out.push(await c.consume({ max_messages: 1000, callback: onMessage }));
  }
  return out;
}

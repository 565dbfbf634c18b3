/**
 * Where events are on their way, for diagnostics (the benchmark's latency breakdown):
 * - `read`: the relay (NATS mode) or an in-process consumer read them from the outbox;
 * - `published`: JetStream acknowledged their publication;
 * - `received`: a NATS-mode consumer got them from its pull subscription;
 * - `handled`: the consumer's transaction (inbox rows and effects) committed.
 * `at` is `performance.now()`. Called synchronously on the hot path: keep it cheap.
 */
export type TraceStage = 'read' | 'published' | 'received' | 'handled';
export type EventTrace = (stage: TraceStage, eventIds: readonly string[], at: number) => void;

export { appendEvents, contextOf, outboxInsert, outboxWaker, type AppendOptions, type EventEnvelope, type NewEvent } from './outbox.js';
export { createEventBus, type EventBus, type EventBusDeps } from './bus.js';
export type { ConsumerSpec } from './consumer.js';
export { defineEvent, renderCatalog, type EventDefinition } from './catalog.js';
export { archiveOutbox, type ArchiveOptions, type ArchiveResult } from './housekeeping.js';
export { listDeadLetters, rebuildConsumer, requestReplay, type DeadLetterView } from './admin.js';
export { consumerLag, type ConsumerLag } from './lag.js';
export type { EventTrace, TraceStage } from './trace.js';

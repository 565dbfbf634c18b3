export { appendEvents, contextOf, type EventEnvelope, type NewEvent } from './outbox.js';

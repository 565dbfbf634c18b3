import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../platform/metrics.js';

export type EventMetrics = ReturnType<typeof eventMetrics>;

/** The event backbone's Prometheus metrics, registered once per registry. */
export function eventMetrics(registry: Registry) {
  return {
    appended: counter(registry, 'embudo_events_appended_total', 'Events appended to the outbox by this process (counted at append)', ['type']),
    published: counter(registry, 'embudo_events_published_total', 'Events published to NATS JetStream (acknowledged) by the relay', ['type']),
    duplicates: counter(registry, 'embudo_events_publish_duplicates_total', 'Publications JetStream dropped as duplicates (Nats-Msg-Id seen)', []),
    handled: counter(registry, 'embudo_events_handled_total', 'Events handled by a consumer (committed with the inbox row)', ['consumer', 'type']),
    handlerErrors: counter(registry, 'embudo_events_handler_errors_total', 'Handler failures (each attempt)', ['consumer', 'type']),
    deadLetters: counter(registry, 'embudo_events_dead_letters_total', 'Events moved to the dead letters', ['consumer', 'type']),
    lagEvents: gauge(registry, 'embudo_events_consumer_lag_events', 'Events a consumer (or the relay) still has to process', ['consumer']),
    lagSeconds: gauge(registry, 'embudo_events_consumer_lag_seconds', 'Age of the oldest event a consumer (or the relay) still has to process', ['consumer']),
    handleDelay: histogram(
      registry,
      'embudo_events_handle_delay_seconds',
      'From the event occurring to its handler committing',
      ['consumer'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
  };
}

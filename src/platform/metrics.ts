import client from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * A Prometheus registry for one process. Contexts register their own metrics on
 * `metrics.registry`; HTTP request metrics are defined here.
 */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const httpRequests = new client.Counter({
    name: 'embudo_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'embudo_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return { registry, httpRequests, httpDuration };
}

/** Returns the metric of that name, creating it once (several modules may ask for it). */
export function counter(registry: client.Registry, name: string, help: string, labelNames: string[] = []) {
  return (registry.getSingleMetric(name) as client.Counter | undefined) ??
    new client.Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(registry: client.Registry, name: string, help: string, labelNames: string[] = []) {
  return (registry.getSingleMetric(name) as client.Gauge | undefined) ??
    new client.Gauge({ name, help, labelNames, registers: [registry] });
}

export function histogram(
  registry: client.Registry,
  name: string,
  help: string,
  labelNames: string[] = [],
  buckets?: number[],
) {
  return (registry.getSingleMetric(name) as client.Histogram | undefined) ??
    new client.Histogram({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) });
}

// One Prometheus registry per process, with the default Node metrics and a `service` label so
// several processors scraped by one Prometheus stay apart.
import { Registry, collectDefaultMetrics } from 'prom-client';

export type MetricsRegistry = Registry;

export function createMetricsRegistry(service: string): MetricsRegistry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

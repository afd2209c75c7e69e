// The notifier's deliveries, outside the consumer (the runtime's `worker`, consumer-process.ts): it
// claims the due pending rows of notifier_deliveries, POSTs each message to its URL, and records
// the outcome. The consumer only plans rows, so a slow or dead receiver never stalls the alerts
// partition; a failing delivery waits in its row for its next attempt (delivery-plan.ts), and one
// that used its attempts, or that the receiver refused (4xx other than 408/429), is dead-lettered.
//
// Delivery guarantee: at least once per (alert event, URL), de-duplicated by the row's state.
// The row is marked delivered right after the receiver's 2xx; a crash (or a lost database) between
// the POST and that update leaves the row pending, and its next attempt after the lease sends the
// same event again — once. That window is why every POST carries the event's identity, as
// `X-Idempotency-Key` and as `dedupe_key` in the body: a receiver that cares drops the second.
import { Counter, Gauge, Histogram } from 'prom-client';
import { eachAtMost } from '../../core/bounded-concurrency.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { DeadLetter } from '../../core/processing/outbox.ts';
import { deadLetterTopicOf } from '../../topics/topics.ts';
import { afterFailure, statusOutcome, type DeliveryPlan } from './delivery-plan.ts';
import type { ClaimedDelivery, DeadLetterSource, DeliveryQueue } from './notifier-store.ts';
import { redactedUrl } from './webhook-urls.ts';

export interface DeliverySettings extends DeliveryPlan {
  /** Time limit of one POST. */
  readonly requestTimeoutMs: number;
  /** POSTs in flight at most. */
  readonly concurrency: number;
}

export interface NotifierMetrics {
  readonly attempts: Counter<'outcome'>;
  readonly deliveries: Counter<'outcome'>;
  readonly latency: Histogram<'outcome'>;
  readonly pending: Gauge;
}

export function createNotifierMetrics(registry: MetricsRegistry): NotifierMetrics {
  return {
    attempts: new Counter({
      name: 'notifier_delivery_attempts_total',
      help: 'POSTs of alert messages to webhook URLs, by outcome (delivered, retriable, refused, error: no HTTP answer)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'notifier_deliveries_total',
      help: 'Deliveries (one alert event to one URL) finished, by outcome (delivered, dead_lettered)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'notifier_delivery_seconds',
      help: 'Duration of one POST of an alert message, by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    pending: new Gauge({ name: 'notifier_pending_deliveries', help: 'Deliveries waiting for their first or next attempt, after the last worker pass', registers: [registry] }),
  };
}

type AttemptOutcome = { readonly kind: 'delivered' } | { readonly kind: 'retriable' | 'refused' | 'error'; readonly reason: string };

export interface DeliveryWorkerOptions {
  readonly queue: DeliveryQueue;
  readonly settings: DeliverySettings;
  readonly consumer: string;
  readonly log: Logger;
  readonly metrics: NotifierMetrics;
  readonly now: () => Date;
}

const pageSize = 50;

export function createDeliveryWorker(options: DeliveryWorkerOptions): { runPass(): Promise<{ moreQueued: boolean }> } {
  const { queue, settings, consumer, log, metrics, now } = options;
  // Longer than one POST can take, so a claimed row is never taken by another instance while its
  // POST may still succeed.
  const leaseMs = settings.requestTimeoutMs + 30_000;

  async function post(delivery: ClaimedDelivery): Promise<AttemptOutcome> {
    const started = performance.now();
    let outcome: AttemptOutcome;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-idempotency-key': delivery.alertId },
        body: JSON.stringify(delivery.message),
        signal: AbortSignal.timeout(settings.requestTimeoutMs),
        redirect: 'manual',
      });
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      const kind = statusOutcome(response.status);
      outcome = kind === 'delivered' ? { kind } : { kind, reason: `HTTP ${response.status}` };
    } catch (error) {
      outcome = { kind: 'error', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    metrics.attempts.inc({ outcome: outcome.kind });
    metrics.latency.observe({ outcome: outcome.kind }, (performance.now() - started) / 1_000);
    return outcome;
  }

  function letterOf(delivery: ClaimedDelivery, reason: string, source: DeadLetterSource): DeadLetter {
    return {
      topic: deadLetterTopicOf(source.sourceTopic),
      key: source.messageKey,
      payload: source.raw,
      correlationId: source.correlationId,
      headers: {
        'dlq-reason': reason,
        'dlq-rule': 'webhook-delivery',
        'dlq-url': redactedUrl(delivery.url),
        'dlq-attempts': String(delivery.attempt),
        'dlq-consumer': consumer,
        'dlq-original-topic': source.sourceTopic,
        'dlq-original-partition': String(source.sourcePartition),
        'dlq-original-offset': source.sourceOffset,
        'dlq-message-id': delivery.alertId,
      },
    };
  }

  async function deliver(delivery: ClaimedDelivery): Promise<void> {
    const outcome = await post(delivery);
    const fields = { alertId: delivery.alertId, url: redactedUrl(delivery.url), attempt: delivery.attempt };
    if (outcome.kind === 'delivered') {
      await queue.markDelivered(delivery, now());
      metrics.deliveries.inc({ outcome: 'delivered' });
      log.info(fields, 'alert delivered');
      return;
    }
    const next = outcome.kind === 'refused' ? { retry: false as const } : afterFailure(settings, delivery.attempt);
    if (next.retry) {
      await queue.scheduleRetry(delivery, now(), next.delayMs, outcome.reason);
      log.warn({ ...fields, reason: outcome.reason, retryInMs: next.delayMs }, 'alert delivery failed; retrying');
      return;
    }
    const reason =
      outcome.kind === 'refused'
        ? `the receiver refused the alert (${outcome.reason}) at attempt ${delivery.attempt}`
        : `no delivery after ${delivery.attempt} attempts; last: ${outcome.reason}`;
    await queue.deadLetter(delivery, now(), reason, (source) => letterOf(delivery, reason, source), consumer);
    metrics.deliveries.inc({ outcome: 'dead_lettered' });
    log.error({ ...fields, reason, alert: true }, 'alert delivery dead-lettered');
  }

  return {
    async runPass() {
      const claimed = await queue.claimDue(now(), pageSize, leaseMs);
      await eachAtMost(settings.concurrency, claimed, deliver);
      metrics.pending.set(await queue.pendingCount());
      return { moreQueued: claimed.length === pageSize };
    },
  };
}

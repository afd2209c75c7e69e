// The notifier as the runtime runs it (processor.ts): consumer group `notifier` on `alerts`. For
// each fresh alert event (inbox id: its alert_id, which a replayed event keeps) it plans one
// delivery per configured URL in notifier_deliveries, in the chunk's transaction with the inbox
// claim. It sends nothing itself: the delivery worker (delivery-worker.ts) does, after the commit,
// so the consumer never waits on a receiver.
import { Counter } from 'prom-client';
import { subscribe, type ConsumedRecord } from '../../core/processing/consumed-record.ts';
import type { HandlerContext, Processor } from '../../core/processing/processor.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { topicNames } from '../../topics/topics.ts';
import { alertMessageOf } from './alert-message.ts';
import { openNotifierStore, type NotifierStore, type PlannedDelivery } from './notifier-store.ts';

export const notifierSubscriptions = [subscribe(topicNames.alerts, 'alert', (value) => value.alert_id)] as const;

export interface NotifierChunkResult {
  readonly alerts: readonly ConsumedRecord<'alert'>['value'][];
  readonly planned: number;
}

export type NotifierProcessor = Processor<'alert', NotifierStore, NotifierChunkResult>;

export function createNotifierProcessor(options: { urls: readonly string[]; metrics: MetricsRegistry }): NotifierProcessor {
  const { urls } = options;
  const alerts = new Counter({
    name: 'notifier_alerts_total',
    help: 'Alert events the notifier consumed, by status (RAISED, REMINDER, CLEARED) and severity',
    labelNames: ['status', 'severity'] as const,
    registers: [options.metrics],
  });
  const planned = new Counter({
    name: 'notifier_deliveries_planned_total',
    help: 'Deliveries (one alert event to one URL) the notifier planned; a replayed event plans none again',
    registers: [options.metrics],
  });

  async function handle(records: readonly ConsumedRecord<'alert'>[], context: HandlerContext<NotifierStore>): Promise<NotifierChunkResult> {
    const deliveries: PlannedDelivery[] = records.flatMap((record) => {
      const message = alertMessageOf(record.value);
      return urls.map((url) => ({
        alertId: record.value.alert_id,
        url,
        message,
        sourceTopic: record.topic,
        sourcePartition: record.partition,
        sourceOffset: record.offset,
        messageKey: record.key,
        correlationId: record.correlationId,
        raw: record.raw,
      }));
    });
    const written = await context.store.planDeliveries(deliveries, context.now);
    return { alerts: records.map((record) => record.value), planned: written };
  }

  return {
    subscriptions: notifierSubscriptions,
    openStore: openNotifierStore,
    handle,
    afterCommit(results) {
      for (const result of results) {
        for (const alert of result.alerts) alerts.inc({ status: alert.status, severity: alert.severity });
        planned.inc(result.planned);
      }
    },
  };
}

// `payout_pipeline_consumer_lag{group,topic,partition}`: the lag of every consumer group of the
// cluster, computed in one place (the admin process) from the Kafka admin client — committed
// offsets against high watermarks — every CONSUMER_LAG_INTERVAL, and exported on the admin's
// /metrics. One figure for all groups, so Prometheus alerts on lag without a Kafka exporter and the
// Grafana dashboard shows it per group and partition (ops/).
import { Counter, Gauge } from 'prom-client';
import type { Admin } from '../../core/kafka/kafka-client.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { lagOf, type PartitionEnds, type PartitionLag } from './consumer-lag-plan.ts';
import type { SharedKafkaAdmin } from './shared-kafka-admin.ts';

/** Every group's lag per partition, read once: the metric's refresh and the console's overview both use it. */
export async function readAllGroupLags(client: Admin): Promise<PartitionLag[]> {
  const { groups } = await client.listGroups();
  // Consumer groups, and groups that only hold committed offsets (protocol type empty).
  const groupIds = groups.filter((group) => group.protocolType === 'consumer' || group.protocolType === '').map((group) => group.groupId).sort();
  const endsByTopic = new Map<string, readonly PartitionEnds[]>();
  const lags: PartitionLag[] = [];
  for (const groupId of groupIds) {
    const topics = await client.fetchOffsets({ groupId });
    for (const { topic } of topics) {
      if (!endsByTopic.has(topic)) endsByTopic.set(topic, await client.fetchTopicOffsets(topic).catch(() => []));
    }
    lags.push(...lagOf(groupId, topics.flatMap(({ topic, partitions }) => partitions.map((entry) => ({ topic, partition: entry.partition, offset: entry.offset }))), endsByTopic));
  }
  return lags;
}

export interface ConsumerLagMonitor {
  /** Reads every group's offsets once and replaces the exported figures. */
  refresh(): Promise<readonly PartitionLag[]>;
}

/** Reads through the process's one Kafka admin connection (shared-kafka-admin.ts), which it does not own. */
export function createConsumerLagMonitor(options: { kafkaAdmin: SharedKafkaAdmin; metrics: MetricsRegistry; log: Logger }): ConsumerLagMonitor {
  const { kafkaAdmin, log } = options;
  const lagGauge = new Gauge({
    name: 'payout_pipeline_consumer_lag',
    help: 'Records a consumer group has not consumed yet, per topic and partition (high watermark − committed offset), as of the last refresh',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [options.metrics],
  });
  const refreshed = new Gauge({
    name: 'payout_pipeline_consumer_lag_refreshed_timestamp_seconds',
    help: 'When the consumer lag figures were last read from Kafka (Unix seconds)',
    registers: [options.metrics],
  });
  const failures = new Counter({
    name: 'payout_pipeline_consumer_lag_errors_total',
    help: 'Consumer lag refreshes that failed (Kafka unreachable); the figures keep their last values',
    registers: [options.metrics],
  });
  return {
    async refresh() {
      try {
        const lags = await kafkaAdmin.use(readAllGroupLags);
        // Replaced in one synchronous step: a scrape sees the old figures or the new ones, and a
        // group that went away disappears instead of standing at its last lag.
        lagGauge.reset();
        for (const lag of lags) lagGauge.set({ group: lag.group, topic: lag.topic, partition: String(lag.partition) }, lag.lag);
        refreshed.set(Date.now() / 1_000);
        return lags;
      } catch (error) {
        failures.inc();
        log.warn({ err: error }, 'consumer lag refresh failed; the figures keep their last values');
        return [];
      }
    },
  };
}

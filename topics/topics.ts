// Every topic of the pipeline as code. `topics apply` creates what is missing and reports drift;
// the value schema named here is registered under the subject `<topic>-value`.
// Partition counts bound the parallelism of each consumer group: a processor scales by adding
// instances up to the partition count of the topics it consumes.

export type CleanupPolicy = 'delete' | 'compact';

/** File name (without `.avsc`) of the value schema in `schemas/avro/`. */
export type ValueSchemaName =
  | 'payment-received'
  | 'client-payout-config'
  | 'pipeline-config'
  | 'conversion-requested'
  | 'payout-requested'
  | 'swap-event'
  | 'transfer-requested'
  | 'chain-event'
  | 'credit-issued'
  | 'payout-completed'
  | 'alert';

export interface TopicDefinition {
  readonly name: string;
  readonly partitions: number;
  readonly cleanupPolicy: CleanupPolicy;
  /** -1 keeps records forever (compacted topics, and money records an operator may need to replay). */
  readonly retentionMs: number;
  /** Wanted in production; `topics apply` clamps it to the cluster (a one-broker dev stack gets 1). */
  readonly replicationFactor: number;
  /** Clamped to the replication factor minus one (at least 1), so one broker may fail without blocking writes. */
  readonly minInSyncReplicas: number;
  /** Absent for dead-letter topics: they carry the original bytes of a rejected record, whatever they were. */
  readonly valueSchema?: ValueSchemaName;
  /** Consumed by our processors, so it gets a dead-letter topic `<name>.dlq`. */
  readonly consumed: boolean;
  readonly description: string;
}

const dayMs = 24 * 60 * 60 * 1000;
const keepForever = -1;

export const topicNames = {
  paymentsReceived: 'payments-received',
  clientPayoutConfigs: 'client-payout-configs',
  pipelineConfig: 'pipeline-config',
  conversionRequests: 'conversion-requests',
  payoutRequests: 'payout-requests',
  swapEvents: 'swap-events',
  transferRequests: 'transfer-requests',
  chainEvents: 'chain-events',
  usdtCredits: 'usdt-credits',
  payoutsCompleted: 'payouts-completed',
  alerts: 'alerts',
} as const;

export type TopicName = (typeof topicNames)[keyof typeof topicNames];

const pipelineTopics: readonly TopicDefinition[] = [
  {
    name: topicNames.paymentsReceived,
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: keepForever,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'payment-received',
    consumed: true,
    description: 'Finished NOWPayments payments, keyed by client id (webhook → router).',
  },
  {
    name: topicNames.clientPayoutConfigs,
    partitions: 3,
    cleanupPolicy: 'compact',
    retentionMs: keepForever,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'client-payout-config',
    consumed: true,
    description: 'Latest payout configuration per client, keyed by client id (admin API → router).',
  },
  {
    name: topicNames.pipelineConfig,
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: keepForever,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'pipeline-config',
    consumed: true,
    description: 'Runtime settings such as the micro-batch threshold, one key (admin API → accumulator).',
  },
  {
    name: topicNames.conversionRequests,
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: 30 * dayMs,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'conversion-requested',
    consumed: true,
    description: 'ETH → USDT micro-batch commands (accumulator → ChangeNow connector).',
  },
  {
    name: topicNames.payoutRequests,
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: 30 * dayMs,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'payout-requested',
    consumed: true,
    description: 'Swap-and-pay commands to a client wallet (router for instant payouts, settlement for threshold payouts → ChangeNow connector).',
  },
  {
    name: topicNames.swapEvents,
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: 30 * dayMs,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'swap-event',
    consumed: true,
    description: 'Exchange lifecycle events, keyed by command id (ChangeNow connector → settlement).',
  },
  {
    name: topicNames.transferRequests,
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: 30 * dayMs,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'transfer-requested',
    consumed: true,
    // One partition: a single host wallet has one nonce sequence, so one sender owns it.
    description: 'On-chain pay-in commands (ChangeNow connector → chain connector).',
  },
  {
    name: topicNames.chainEvents,
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: 30 * dayMs,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'chain-event',
    consumed: true,
    description: 'Transfer lifecycle events, keyed by transfer id (chain connector → ChangeNow connector).',
  },
  {
    name: topicNames.usdtCredits,
    partitions: 6,
    cleanupPolicy: 'delete',
    retentionMs: keepForever,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'credit-issued',
    consumed: true,
    description: "Clients' shares of finished conversions, keyed by client id (settlement → readers outside the pipeline: statements, analytics; settlement's own window reads its table).",
  },
  {
    name: topicNames.payoutsCompleted,
    partitions: 3,
    cleanupPolicy: 'delete',
    retentionMs: keepForever,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'payout-completed',
    consumed: false,
    description: 'Finished payouts, for the bot that notifies merchants (settlement → outside).',
  },
  {
    name: topicNames.alerts,
    partitions: 1,
    cleanupPolicy: 'delete',
    // 30 days, not longer: the notifier consumes it, and its inbox (INBOX_RETENTION, 60 days) must
    // outlive any record a replay could bring back (core/processing/retention-policy.ts). The
    // history stays in liveness_findings and notifier_deliveries.
    retentionMs: 30 * dayMs,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    valueSchema: 'alert',
    // The notifier consumes it; its deliveries that fail for good go to alerts.dlq.
    consumed: true,
    // One partition: alerts are few, and people read them in the order they were raised.
    description: 'Liveness findings for people: money that waits and cannot clear by itself, keyed by finding id (reconcile, admin → notifier → webhook URLs).',
  },
];

export const deadLetterSuffix = '.dlq';

export function deadLetterTopicOf(topic: string): string {
  return `${topic}${deadLetterSuffix}`;
}

function deadLetterTopicFor(topic: TopicDefinition): TopicDefinition {
  return {
    name: deadLetterTopicOf(topic.name),
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: keepForever,
    replicationFactor: 3,
    minInSyncReplicas: 2,
    consumed: false,
    description: `Records of ${topic.name} a processor rejected, with the reason in headers; \`replay\` moves them back.`,
  };
}

export const topicDefinitions: readonly TopicDefinition[] = [
  ...pipelineTopics,
  ...pipelineTopics.filter((topic) => topic.consumed).map(deadLetterTopicFor),
];

export function valueSubjectOf(topic: string): string {
  return `${topic}-value`;
}

// Reads everything GET /api/overview shows, then hands it to the pure assembly (overview.ts):
// the database figures in one snapshot (overview-store.ts); consumer lag and dead-letter depth
// through the process's one Kafka admin connection (the same code as the lag metric and
// GET /api/dead-letters); the host wallet from the EVM node. Kafka or the node being down makes
// their figures null; the database being down fails the read (the overview would say nothing true).
import type { DatabasePool } from 'slonik';
import type { Logger } from '../../core/logger.ts';
import type { WindowRules } from '../accumulator/micro-batch-evaluation.ts';
import { readAllGroupLags } from './consumer-lag.ts';
import { deadLetterTopics, readDeadLetterDepths } from './dead-letters.ts';
import type { HostWalletReader } from './host-wallet-balance.ts';
import { assembleOverview, type Overview } from './overview.ts';
import { readOverviewFigures } from './overview-store.ts';
import type { SharedKafkaAdmin } from './shared-kafka-admin.ts';

export type OverviewReader = () => Promise<Overview>;

export function createOverviewReader(options: {
  pool: DatabasePool;
  rules: WindowRules;
  kafkaAdmin: SharedKafkaAdmin | undefined;
  hostWallet: HostWalletReader | undefined;
  now: () => Date;
  log: Logger;
}): OverviewReader {
  const { kafkaAdmin, log } = options;
  const orNull = async <T>(what: string, read: (() => Promise<T>) | undefined): Promise<T | null> => {
    if (read === undefined) return null;
    try {
      return await read();
    } catch (error) {
      log.debug({ err: error, what }, 'overview figure not readable; shown as null');
      return null;
    }
  };
  return async () => {
    const now = options.now();
    const [figures, lags, deadLetters, hostWallet] = await Promise.all([
      readOverviewFigures(options.pool, options.rules, now),
      orNull('consumer lag', kafkaAdmin && (() => kafkaAdmin.use(readAllGroupLags))),
      orNull(
        'dead letters',
        kafkaAdmin &&
          (async () => {
            const depths = await kafkaAdmin.use((admin) => readDeadLetterDepths(admin, options.pool, { afterTopic: null, limit: deadLetterTopics.length }));
            return depths.map((depth) => ({ topic: depth.topic, notReplayed: depth.not_replayed }));
          }),
      ),
      orNull('host wallet', options.hostWallet),
    ]);
    return assembleOverview({ now, maxWaitMs: options.rules.maxWaitMs, ...figures, lags, deadLetters, hostWallet });
  };
}

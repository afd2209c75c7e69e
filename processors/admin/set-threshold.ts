// `config set-threshold <value>`: the same validated, audited transaction as
// PUT /api/config/micro-batch-threshold, run directly against PostgreSQL (an operator with the
// database at hand needs no admin token), then the outbox is drained once so the change is on the
// pipeline-config topic when the command returns. If Kafka is down the change is still committed
// and audited; any running processor's relay publishes it.
import { userInfo } from 'node:os';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { createShutdown } from '../../core/shutdown.ts';
import { openProcessResources } from '../../core/processing/process-resources.ts';
import { createOutboxRelay } from '../../core/processing/outbox-relay.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { microBatchThresholdLimitsOf, parseMicroBatchThreshold } from './micro-batch-threshold.ts';
import { parseActor } from '../../core/http/request-validation.ts';
import { setMicroBatchThreshold, type SetMicroBatchThresholdOutcome } from './threshold-store.ts';

export interface RunSetThresholdOptions {
  config: Config;
  endpoints: StackEndpoints;
  log: Logger;
  /** The value as typed on the command line, e.g. "25.5". */
  value: string;
  /** Recorded as changed_by; default `cli:<os user>`. */
  actor?: string;
  now?: () => Date;
}

export interface RunSetThresholdResult {
  outcome: SetMicroBatchThresholdOutcome;
  /** False when the record stays in the outbox for a running relay to publish. */
  published: boolean;
}

export function defaultCliActor(): string {
  const name = userInfo().username.replace(/[^A-Za-z0-9._@+-]/g, '_').slice(0, 60);
  return `cli:${name === '' ? 'unknown' : name}`;
}

/** Validates first (a RequestValidationError names `value` and the rule), then opens connections. */
export async function runSetThreshold(options: RunSetThresholdOptions): Promise<RunSetThresholdResult> {
  const { config, endpoints, log } = options;
  const limits = microBatchThresholdLimitsOf(config);
  const value = parseMicroBatchThreshold(options.value, limits);
  const changedBy = parseActor(options.actor ?? defaultCliActor());
  const shutdown = createShutdown({ log });
  try {
    const { pool, producer, serde, metrics } = await openProcessResources({ name: 'admin-cli', config, endpoints, log, shutdown });
    const outcome = await setMicroBatchThreshold({ pool, limits, value, changedBy, now: (options.now ?? (() => new Date()))() });
    // Drained even when unchanged: it also publishes an earlier change that no relay has sent yet.
    try {
      await createOutboxRelay({ pool, producer, serde, log, metrics }).drain();
      return { outcome, published: true };
    } catch (error) {
      log.warn({ err: error }, 'threshold change committed and audited, but not published yet; a running relay will publish it');
      return { outcome, published: false };
    }
  } finally {
    await shutdown.run('set-threshold done');
  }
}

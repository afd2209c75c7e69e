// `recovery list` and `recovery resolve`: the same listing and resolution as the admin API's
// GET /api/conversion-recoveries and POST /api/conversion-batches/:batchId/recovery, run directly
// against PostgreSQL (an operator with the database at hand needs no admin token). A recovered
// amount's CreditIssued records are committed to the outbox with the credits; the outbox is then
// drained once, and with Kafka down they stay for any running processor's relay.
import { randomUUID } from 'node:crypto';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { createShutdown } from '../core/shutdown.ts';
import { openProcessResources } from '../core/processing/process-resources.ts';
import { createOutboxRelay } from '../core/processing/outbox-relay.ts';
import { createDatabasePool } from '../db/pool.ts';
import { defaultCliActor } from '../processors/admin/set-threshold.ts';
import { parseRecoveryRequest } from '../processors/settlement/recovery-request.ts';
import { parseActor } from '../core/http/request-validation.ts';
import { listConversionRecoveries, recoveryView, resolveConversionRecovery, type RecoveryOutcome } from '../processors/settlement/conversion-recovery.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';

export async function runRecoveryList(endpoints: StackEndpoints, write: (text: string) => void): Promise<void> {
  const pool = await createDatabasePool(endpoints.databaseUrl, { applicationName: 'recovery' });
  try {
    const rows = await listConversionRecoveries(pool, 200);
    write(rows.length === 0 ? 'no conversion failed after its pay-in\n' : `${rows.map((row) => JSON.stringify(recoveryView(row))).join('\n')}\n`);
  } finally {
    await pool.end();
  }
}

export interface RunRecoveryResolveOptions {
  config: Config;
  endpoints: StackEndpoints;
  log: Logger;
  batchId: string;
  resolution: string;
  usdtAmount?: string;
  note?: string;
  actor?: string;
}

/** Validates first (a RequestValidationError names the option), then opens connections. */
export async function runRecoveryResolve(options: RunRecoveryResolveOptions): Promise<RecoveryOutcome> {
  const { config, endpoints, log } = options;
  const input = parseRecoveryRequest({
    resolution: options.resolution,
    ...(options.usdtAmount === undefined ? {} : { usdt_amount: options.usdtAmount }),
    ...(options.note === undefined ? {} : { note: options.note }),
  });
  const actor = parseActor(options.actor ?? defaultCliActor());
  const pool = await createDatabasePool(endpoints.databaseUrl, { applicationName: 'recovery' });
  let outcome: RecoveryOutcome;
  try {
    outcome = await resolveConversionRecovery(pool, { batchId: options.batchId, input, actor, now: new Date(), correlationId: `recovery:${randomUUID()}` });
  } finally {
    await pool.end();
  }
  if (outcome.kind === 'resolved' && outcome.credits > 0) {
    const shutdown = createShutdown({ log });
    try {
      const resources = await openProcessResources({ name: 'recovery', config, endpoints, log, shutdown });
      await createOutboxRelay({ ...resources, log }).drain();
    } catch (error) {
      log.warn({ err: error }, 'credits committed, but their records are not published yet; a running relay will publish them');
    } finally {
      await shutdown.run('recovery done');
    }
  }
  return outcome;
}

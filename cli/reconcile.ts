// `reconcile`: safety and liveness over the whole database.
//   - safety: the ledger's invariants (db/reconciliation.ts); any violation → exit code 1;
//   - liveness: what waits, with state, reason and age (db/liveness.ts), and the findings — waits
//     that cannot clear by themselves → exit code 3, each raised as an alert (a log line with
//     `alert: true` and a record on `alerts`, deduplicated through liveness_findings);
//   - safety wins: violations and findings together exit 1.
// The alerts are committed to the outbox with the findings, then the outbox is drained once so
// they are on the topic when the command returns; with Kafka down they stay in the outbox for any
// running processor's relay (the exit code does not depend on it).
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { createShutdown } from '../core/shutdown.ts';
import { openProcessResources } from '../core/processing/process-resources.ts';
import { createOutboxRelay } from '../core/processing/outbox-relay.ts';
import { createDatabasePool } from '../db/pool.ts';
import { findUnroutedPayments, findViolations, formatViolations } from '../db/reconciliation.ts';
import { findWaiting, type Finding, type WaitingItem } from '../db/liveness.ts';
import { checkLiveness, livenessRulesOf } from '../processors/admin/liveness-alerts.ts';
import type { StackEndpoints } from '../stack/endpoints.ts';

export const reconcileExitCodes = { clean: 0, violations: 1, findings: 3 } as const;

export function reconcileExitCodeOf(violations: number, findings: number): number {
  if (violations > 0) return reconcileExitCodes.violations;
  if (findings > 0) return reconcileExitCodes.findings;
  return reconcileExitCodes.clean;
}

function ageText(since: Date, now: Date): string {
  const seconds = Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1_000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7_200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3_600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function formatFindings(findings: readonly Finding[], now: Date): string {
  if (findings.length === 0) return 'liveness: no finding';
  return findings.map((finding) => `FINDING ${finding.kind} ${finding.subject} (${finding.severity}, for ${ageText(finding.since, now)}): ${finding.detail}`).join('\n');
}

export function formatWaiting(waiting: readonly WaitingItem[], now: Date): string {
  if (waiting.length === 0) return 'waiting: nothing';
  return waiting.map((item) => `WAITING ${item.state} ${item.subject} ${item.amount.toFixed()} ${item.currency} for ${ageText(item.since, now)}: ${item.reason}`).join('\n');
}

export interface RunReconcileOptions {
  config: Config;
  endpoints: StackEndpoints;
  log: Logger;
  /** False: do not drain the outbox (the alerts are still committed for a running relay). */
  publish: boolean;
  write: (text: string) => void;
  now?: () => Date;
}

/** Returns the exit code. */
export async function runReconcile(options: RunReconcileOptions): Promise<number> {
  const { config, endpoints, log, write } = options;
  const now = (options.now ?? (() => new Date()))();
  const pool = await createDatabasePool(endpoints.databaseUrl, { applicationName: 'reconcile' });
  let violations;
  let liveness;
  try {
    violations = await findViolations(pool);
    const unrouted = await findUnroutedPayments(pool);
    const waiting = await findWaiting(pool);
    liveness = await checkLiveness({ pool, rules: livenessRulesOf(config), now, repeatIntervalMs: config.ALERT_REPEAT_INTERVAL, log });
    write(`${formatViolations(violations)}\n${formatFindings(liveness.findings, now)}\n${formatWaiting(waiting, now)}\n`);
    if (unrouted.length > 0) {
      write(`note: ${unrouted.length} accepted payment(s) not in the ledger yet (router behind or stopped), oldest ${unrouted[0]?.accepted_at.toISOString()}\n`);
    }
  } finally {
    await pool.end();
  }
  if (options.publish && liveness.alerts.length > 0) {
    const shutdown = createShutdown({ log });
    try {
      const resources = await openProcessResources({ name: 'reconcile', config, endpoints, log, shutdown });
      await createOutboxRelay({ ...resources, log }).drain();
    } catch (error) {
      log.warn({ err: error }, 'alerts committed, but not published yet; a running relay will publish them');
    } finally {
      await shutdown.run('reconcile done');
    }
  }
  return reconcileExitCodeOf(violations.length, liveness.findings.length);
}

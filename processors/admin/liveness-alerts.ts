// The I/O shell of the liveness check, shared by `cli reconcile` and the admin process's periodic
// check: read the findings (db/liveness.ts), remember them in liveness_findings and write the alert
// records the plan (alert-plan.ts) calls for into the outbox, then log each alert with `alert: true`.
//
// Exactly once per transition: the check runs in ONE transaction under a transaction-level advisory
// lock, so two checkers (the admin process and an operator's `reconcile`) never both see a finding
// as new; the liveness_findings rows and the outbox rows commit together, so an alert exists if and
// only if its transition was recorded. The relay publishes at least once, and each alert carries
// its id `<finding_id>:<n>` for consumers to dedupe. The log lines are written after the commit.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Gauge } from 'prom-client';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { insertOutboxRecords, type OutboxRecord } from '../../core/processing/outbox.ts';
import { findFindings, findingChecks, type Finding, type LivenessRules } from '../../db/liveness.ts';
import { topicNames } from '../../topics/topics.ts';
import { planAlerts, type PlannedAlert, type StoredFinding } from './alert-plan.ts';
import { livenessCheckLock, lockForTransaction } from '../../db/advisory-locks.ts';

export function livenessRulesOf(config: Config): LivenessRules {
  return {
    holdAlertAfterMs: config.PAYOUT_HOLD_ALERT_AFTER,
    overdueAlertAfterMs: config.PAYOUT_OVERDUE_ALERT_AFTER,
    stuckAlertAfterMs: config.SWAP_STUCK_ALERT_AFTER,
    deadLetterWindowMs: config.DEAD_LETTER_ALERT_WINDOW,
  };
}

const storedRow = z.object({
  finding_id: z.string(),
  kind: z.string(),
  subject: z.string(),
  severity: z.enum(['warning', 'critical']),
  detail: z.string(),
  first_seen_at: z.date(),
  last_alerted_at: z.date(),
  alerts_emitted: z.number().int(),
  cleared_at: z.date().nullable(),
});

function alertRecord(alert: PlannedAlert, now: Date): OutboxRecord<'alert'> {
  const { finding } = alert;
  return {
    topic: topicNames.alerts,
    schemaName: 'alert',
    key: finding.findingId,
    value: {
      alert_id: alert.alertId,
      finding_id: finding.findingId,
      kind: finding.kind,
      subject: finding.subject,
      severity: finding.severity === 'critical' ? 'CRITICAL' : 'WARNING',
      status: alert.status,
      detail: finding.detail,
      first_seen: finding.firstSeenAt,
      emitted_at: now,
    },
    correlationId: `alert:${alert.alertId}`,
  };
}

export interface LivenessCheck {
  readonly findings: readonly Finding[];
  readonly alerts: readonly PlannedAlert[];
}

/** Finds, remembers and alerts, in one transaction; logs the alerts once it committed. */
export async function checkLiveness(options: { pool: DatabasePool; rules: LivenessRules; now: Date; repeatIntervalMs: number; log: Logger }): Promise<LivenessCheck> {
  const { pool, rules, now, repeatIntervalMs, log } = options;
  const result = await pool.transaction(async (transaction) => {
    await lockForTransaction(transaction, livenessCheckLock());
    const findings = await findFindings(transaction, rules, now);
    const ids = findings.map((finding) => finding.findingId);
    const storedRows = await transaction.any(sql.type(storedRow)`
      SELECT finding_id, kind, subject, severity, detail, first_seen_at, last_alerted_at, alerts_emitted, cleared_at
      FROM liveness_findings WHERE cleared_at IS NULL OR finding_id = ANY(${sql.array(ids, 'text')})`);
    const stored = new Map<string, StoredFinding>(
      storedRows.map((row) => [
        row.finding_id,
        {
          findingId: row.finding_id,
          kind: row.kind,
          subject: row.subject,
          severity: row.severity,
          detail: row.detail,
          firstSeenAt: row.first_seen_at,
          lastAlertedAt: row.last_alerted_at,
          alertsEmitted: row.alerts_emitted,
          clearedAt: row.cleared_at,
        },
      ]),
    );
    const plan = planAlerts(stored, findings, now, repeatIntervalMs);
    if (plan.rows.length > 0) {
      const rows = plan.rows;
      await transaction.query(sql.unsafe`
        INSERT INTO liveness_findings (finding_id, kind, subject, severity, detail, first_seen_at, last_seen_at, last_alerted_at, alerts_emitted, cleared_at)
        SELECT f.finding_id, f.kind, f.subject, f.severity, f.detail, f.first_seen_at, ${sql.timestamp(now)}, f.last_alerted_at, f.alerts_emitted, f.cleared_at
        FROM unnest(${sql.array(rows.map((row) => row.findingId), 'text')}, ${sql.array(rows.map((row) => row.kind), 'text')},
                    ${sql.array(rows.map((row) => row.subject), 'text')}, ${sql.array(rows.map((row) => row.severity), 'text')},
                    ${sql.array(rows.map((row) => row.detail), 'text')}, ${sql.array(rows.map((row) => row.firstSeenAt.toISOString()), 'timestamptz')},
                    ${sql.array(rows.map((row) => row.lastAlertedAt.toISOString()), 'timestamptz')}, ${sql.array(rows.map((row) => row.alertsEmitted), 'int4')},
                    ${sql.array(rows.map((row) => row.clearedAt?.toISOString() ?? null), 'timestamptz')})
             AS f (finding_id, kind, subject, severity, detail, first_seen_at, last_alerted_at, alerts_emitted, cleared_at)
        ON CONFLICT (finding_id) DO UPDATE SET
          kind = EXCLUDED.kind, subject = EXCLUDED.subject, severity = EXCLUDED.severity, detail = EXCLUDED.detail,
          first_seen_at = EXCLUDED.first_seen_at, last_alerted_at = EXCLUDED.last_alerted_at, alerts_emitted = EXCLUDED.alerts_emitted,
          cleared_at = EXCLUDED.cleared_at,
          -- A cleared finding was not seen now; the others were.
          last_seen_at = CASE WHEN EXCLUDED.cleared_at IS NULL THEN EXCLUDED.last_seen_at ELSE liveness_findings.last_seen_at END`);
    }
    await insertOutboxRecords(transaction, plan.alerts.map((alert) => alertRecord(alert, now)));
    return { findings, alerts: plan.alerts };
  });
  for (const alert of result.alerts) {
    const { finding } = alert;
    const fields = { alert: true, alertId: alert.alertId, findingId: finding.findingId, kind: finding.kind, subject: finding.subject, severity: finding.severity, status: alert.status, detail: finding.detail };
    if (alert.status === 'CLEARED') log.info(fields, `liveness finding cleared: ${finding.kind} ${finding.subject}`);
    else if (finding.severity === 'critical') log.error(fields, `liveness finding: ${finding.kind} ${finding.subject}`);
    else log.warn(fields, `liveness finding: ${finding.kind} ${finding.subject}`);
  }
  return result;
}

/** `liveness_findings{kind}`: the findings of the last check, every known kind present (0 when none). */
export function createFindingsGauge(registry: MetricsRegistry): (findings: readonly Finding[]) => void {
  const gauge = new Gauge({ name: 'liveness_findings', help: 'Liveness findings of the last check, by kind (money that waits and cannot clear by itself)', labelNames: ['kind'] as const, registers: [registry] });
  return (findings) => {
    const counts = new Map<string, number>(findingChecks.map((check) => [check.kind, 0]));
    for (const finding of findings) counts.set(finding.kind, (counts.get(finding.kind) ?? 0) + 1);
    for (const [kind, count] of counts) gauge.set({ kind }, count);
  };
}

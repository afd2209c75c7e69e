// Which alert records one liveness check emits (pure: no I/O, time comes in as `now`). A finding
// is alerted when it appears (RAISED), again while it stands at most once per repeat interval
// (REMINDER), and once when it is gone (CLEARED); a check that sees the same standing finding
// within the interval emits nothing, so running the check every minute does not page every minute.
import type { Finding } from '../../db/liveness.ts';

export type AlertStatus = 'RAISED' | 'REMINDER' | 'CLEARED';

/** What liveness_findings remembers about a finding. */
export interface StoredFinding {
  readonly findingId: string;
  readonly kind: string;
  readonly subject: string;
  readonly severity: Finding['severity'];
  readonly detail: string;
  readonly firstSeenAt: Date;
  readonly lastAlertedAt: Date;
  readonly alertsEmitted: number;
  readonly clearedAt: Date | null;
}

export interface PlannedAlert {
  readonly status: AlertStatus;
  /** `<finding_id>:<n>`: the n-th alert of this finding, so a republished record is deduped downstream. */
  readonly alertId: string;
  readonly finding: StoredFinding;
}

export interface AlertPlan {
  /** The rows to write back (every current finding, and every one that cleared now). */
  readonly rows: readonly StoredFinding[];
  readonly alerts: readonly PlannedAlert[];
}

export function planAlerts(stored: ReadonlyMap<string, StoredFinding>, current: readonly Finding[], now: Date, repeatIntervalMs: number): AlertPlan {
  const rows: StoredFinding[] = [];
  const alerts: PlannedAlert[] = [];
  const emit = (status: AlertStatus, row: StoredFinding): void => {
    rows.push(row);
    alerts.push({ status, alertId: `${row.findingId}:${row.alertsEmitted}`, finding: row });
  };
  const seen = new Set<string>();
  for (const finding of current) {
    if (seen.has(finding.findingId)) continue;
    seen.add(finding.findingId);
    const previous = stored.get(finding.findingId);
    const facts = { findingId: finding.findingId, kind: finding.kind, subject: finding.subject, severity: finding.severity, detail: finding.detail };
    if (previous === undefined || previous.clearedAt !== null) {
      // New, or back after it cleared: a new incident, first seen now.
      emit('RAISED', { ...facts, firstSeenAt: now, lastAlertedAt: now, alertsEmitted: (previous?.alertsEmitted ?? 0) + 1, clearedAt: null });
    } else if (now.getTime() - previous.lastAlertedAt.getTime() >= repeatIntervalMs) {
      emit('REMINDER', { ...facts, firstSeenAt: previous.firstSeenAt, lastAlertedAt: now, alertsEmitted: previous.alertsEmitted + 1, clearedAt: null });
    } else {
      rows.push({ ...facts, firstSeenAt: previous.firstSeenAt, lastAlertedAt: previous.lastAlertedAt, alertsEmitted: previous.alertsEmitted, clearedAt: null });
    }
  }
  for (const previous of stored.values()) {
    if (previous.clearedAt !== null || seen.has(previous.findingId)) continue;
    emit('CLEARED', { ...previous, lastAlertedAt: now, alertsEmitted: previous.alertsEmitted + 1, clearedAt: now });
  }
  return { rows, alerts };
}

// Proves the alert dedupe rules with given/when/then over the pure plan: a finding is raised when
// it appears, stays quiet while it stands within the repeat interval, is reminded after it, is
// cleared once when gone, and raised again (a new incident) when it comes back; ids count up.
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../db/liveness.ts';
import { planAlerts, type StoredFinding } from './alert-plan.ts';

const hourMs = 3_600_000;
const t0 = new Date('2026-12-01T10:00:00Z');
const at = (hours: number) => new Date(t0.getTime() + hours * hourMs);

const finding: Finding = { findingId: 'payout_stuck:b1', kind: 'payout_stuck', subject: 'b1', severity: 'warning', detail: 'swapping since …', since: t0 };

function storedOf(rows: readonly StoredFinding[]): Map<string, StoredFinding> {
  return new Map(rows.map((row) => [row.findingId, row]));
}

describe('planAlerts', () => {
  it('raises a new finding, then stays quiet within the interval, reminds after it, clears once, and raises a comeback anew', () => {
    const first = planAlerts(new Map(), [finding], at(0), 6 * hourMs);
    expect(first.alerts.map((alert) => [alert.status, alert.alertId])).toEqual([['RAISED', 'payout_stuck:b1:1']]);
    expect(first.rows).toEqual([expect.objectContaining({ firstSeenAt: at(0), lastAlertedAt: at(0), alertsEmitted: 1, clearedAt: null })]);

    const quiet = planAlerts(storedOf(first.rows), [finding], at(5), 6 * hourMs);
    expect(quiet.alerts).toEqual([]);
    expect(quiet.rows).toEqual([expect.objectContaining({ lastAlertedAt: at(0), alertsEmitted: 1 })]);

    const reminder = planAlerts(storedOf(quiet.rows), [{ ...finding, detail: 'still swapping' }], at(6), 6 * hourMs);
    expect(reminder.alerts.map((alert) => [alert.status, alert.alertId, alert.finding.detail, alert.finding.firstSeenAt])).toEqual([['REMINDER', 'payout_stuck:b1:2', 'still swapping', at(0)]]);

    const cleared = planAlerts(storedOf(reminder.rows), [], at(7), 6 * hourMs);
    expect(cleared.alerts.map((alert) => [alert.status, alert.alertId])).toEqual([['CLEARED', 'payout_stuck:b1:3']]);
    expect(cleared.rows).toEqual([expect.objectContaining({ clearedAt: at(7) })]);

    expect(planAlerts(storedOf(cleared.rows), [], at(8), 6 * hourMs)).toEqual({ rows: [], alerts: [] });

    const back = planAlerts(storedOf(cleared.rows), [finding], at(9), 6 * hourMs);
    expect(back.alerts.map((alert) => [alert.status, alert.alertId, alert.finding.firstSeenAt])).toEqual([['RAISED', 'payout_stuck:b1:4', at(9)]]);
  });

  it('alerts each of several findings on its own, and a duplicate finding once', () => {
    const other: Finding = { ...finding, findingId: 'dead_letters:swap-events.dlq', kind: 'dead_letters', subject: 'swap-events.dlq' };
    const plan = planAlerts(new Map(), [finding, other, finding], at(0), hourMs);
    expect(plan.alerts.map((alert) => alert.alertId)).toEqual(['payout_stuck:b1:1', 'dead_letters:swap-events.dlq:1']);
  });
});

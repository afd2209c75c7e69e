// The JSON a receiver gets for one alert event: Slack's incoming-webhook shape (`text`, which Slack,
// Mattermost, Rocket.Chat and Discord's /slack endpoint all show) plus the alert's fields as plain
// top-level properties for receivers that parse them. `dedupe_key` is the alert event's identity
// (its alert_id): the notifier may resend an event once after a crash between the POST and its
// record (see delivery-worker.ts), and a receiver drops the second by that key. The same key goes
// in the `X-Idempotency-Key` header.
import type { Alert } from '../../schemas/generated/records.ts';

export interface AlertMessage {
  readonly text: string;
  readonly dedupe_key: string;
  readonly status: Alert['status'];
  readonly severity: Alert['severity'];
  readonly kind: string;
  readonly subject: string;
  readonly detail: string;
  /** When the finding was first seen (ISO 8601). */
  readonly since: string;
  /** When this event was emitted (ISO 8601). */
  readonly emitted_at: string;
}

const statusWords: Record<Alert['status'], string> = { RAISED: 'raised', REMINDER: 'still standing', CLEARED: 'cleared' };
const statusMarks: Record<Alert['status'], string> = { RAISED: ':rotating_light:', REMINDER: ':hourglass:', CLEARED: ':white_check_mark:' };

export function alertMessageOf(alert: Alert): AlertMessage {
  const since = alert.first_seen.toISOString();
  const text = [
    `${statusMarks[alert.status]} [${alert.severity}] ${alert.kind} ${statusWords[alert.status]}: ${alert.subject}`,
    alert.detail,
    `since ${since} · alert ${alert.alert_id}`,
  ].join('\n');
  return {
    text,
    dedupe_key: alert.alert_id,
    status: alert.status,
    severity: alert.severity,
    kind: alert.kind,
    subject: alert.subject,
    detail: alert.detail,
    since,
    emitted_at: alert.emitted_at.toISOString(),
  };
}

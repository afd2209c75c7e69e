// The quarantine of correctly signed IPNs that failed validation (db/migrations/008). A signed IPN
// is NOWPayments saying money arrived, so it is never just refused: it is kept, counted and raised
// until an operator reinjects a corrected body or dismisses it with a reason. Unsigned bodies never
// get here. The webhook writes rows; the admin API and CLI read and resolve them.
import { createHash } from 'node:crypto';
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { isLosslessNumber } from 'lossless-json';
import type { ValidationProblem } from './ipn-notification.ts';
import type { IntakeOutcome } from './payment-intake.ts';

export const quarantineStates = ['held', 'reinjected', 'dismissed'] as const;
export type QuarantineState = (typeof quarantineStates)[number];

/** How many problems of one body are kept (the headline is always the first). */
const problemsKeptMax = 20;
const ruleLengthMax = 300;

const quarantineRow = z.object({
  quarantine_id: z.string(),
  body_sha256: z.string(),
  body: z.string(),
  payment_id: z.string().nullable(),
  reason_field: z.string(),
  reason_rule: z.string(),
  problems: z.array(z.object({ field: z.string(), rule: z.string() })),
  correlation_id: z.string(),
  first_received_at: z.date(),
  last_received_at: z.date(),
  times_received: z.number(),
  state: z.enum(quarantineStates),
  resolved_by: z.string().nullable(),
  resolved_at: z.date().nullable(),
  resolution_note: z.string().nullable(),
  reinjected_body: z.string().nullable(),
  reinjected_payment_id: z.string().nullable(),
  reinject_outcome: z.string().nullable(),
});
export type QuarantinedIpn = z.infer<typeof quarantineRow>;

const columns = sql.fragment`
  quarantine_id::text AS quarantine_id, body_sha256, body, payment_id, reason_field, reason_rule, problems,
  correlation_id, first_received_at, last_received_at, times_received, state, resolved_by, resolved_at,
  resolution_note, reinjected_body, reinjected_payment_id, reinject_outcome`;

/** The dedupe key: the same signed content is the same quarantined IPN, whatever its whitespace. */
export function quarantineKeyOf(canonicalText: string): string {
  return createHash('sha256').update(canonicalText, 'utf8').digest('hex');
}

/** The payment id of a body that failed validation, only when it has the shape of one. */
export function paymentIdHintOf(body: unknown): string | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const value = (body as Record<string, unknown>)['payment_id'];
  const text = isLosslessNumber(value) ? value.value : value;
  return typeof text === 'string' && /^[0-9]{1,20}$/.test(text) ? text : null;
}

export interface QuarantineEntry {
  /** The body as received (its exact text), kept for the operator. */
  body: string;
  /** The canonical text the signature covers, for the dedupe key. */
  canonicalText: string;
  paymentId: string | null;
  problems: readonly ValidationProblem[];
  correlationId: string;
  receivedAt: Date;
}

export interface QuarantineReceipt {
  quarantineId: string;
  state: QuarantineState;
  timesReceived: number;
  /** True the first time this body was quarantined: the moment to raise the alert. */
  isNew: boolean;
}

const receiptRow = z.object({ quarantine_id: z.string(), state: z.enum(quarantineStates), times_received: z.number(), is_new: z.boolean() });

/** Keeps a signed IPN that failed validation; the same body again bumps times_received only. */
export async function quarantineIpn(connection: CommonQueryMethods, entry: QuarantineEntry): Promise<QuarantineReceipt> {
  const problems = entry.problems.slice(0, problemsKeptMax).map(({ field, rule }) => ({ field, rule: rule.slice(0, ruleLengthMax) }));
  const first = problems[0] ?? { field: 'body', rule: 'must be a valid IPN' };
  const row = await connection.one(sql.type(receiptRow)`
    INSERT INTO ipn_quarantine
      (body_sha256, body, payment_id, reason_field, reason_rule, problems, correlation_id, first_received_at, last_received_at)
    VALUES (${quarantineKeyOf(entry.canonicalText)}, ${entry.body}, ${entry.paymentId}, ${first.field}, ${first.rule},
            ${sql.jsonb(problems)}, ${entry.correlationId}, ${sql.timestamp(entry.receivedAt)}, ${sql.timestamp(entry.receivedAt)})
    ON CONFLICT (body_sha256) DO UPDATE
      SET times_received = ipn_quarantine.times_received + 1,
          last_received_at = GREATEST(ipn_quarantine.last_received_at, EXCLUDED.last_received_at)
    RETURNING quarantine_id::text AS quarantine_id, state, times_received, (xmax = 0) AS is_new
  `);
  return { quarantineId: row.quarantine_id, state: row.state, timesReceived: row.times_received, isNew: row.is_new };
}

export async function countHeldIpns(connection: CommonQueryMethods): Promise<number> {
  return connection.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM ipn_quarantine WHERE state = 'held'`);
}

export interface QuarantineListOptions {
  state?: QuarantineState;
  limit: number;
}

/** Oldest first: the IPN that has waited longest is the one to look at first. */
export async function listQuarantinedIpns(connection: CommonQueryMethods, options: QuarantineListOptions): Promise<readonly QuarantinedIpn[]> {
  const filter = options.state === undefined ? sql.fragment`TRUE` : sql.fragment`state = ${options.state}`;
  return connection.any(sql.type(quarantineRow)`
    SELECT ${columns} FROM ipn_quarantine WHERE ${filter} ORDER BY first_received_at, quarantine_id LIMIT ${options.limit}`);
}

export async function loadQuarantinedIpn(connection: CommonQueryMethods, quarantineId: string): Promise<QuarantinedIpn | null> {
  return connection.maybeOne(sql.type(quarantineRow)`SELECT ${columns} FROM ipn_quarantine WHERE quarantine_id = ${quarantineId}::bigint`);
}

/** Locks the row for the rest of the transaction, so two operators cannot resolve it twice. */
export async function lockQuarantinedIpn(transaction: DatabaseTransactionConnection, quarantineId: string): Promise<QuarantinedIpn | null> {
  return transaction.maybeOne(sql.type(quarantineRow)`
    SELECT ${columns} FROM ipn_quarantine WHERE quarantine_id = ${quarantineId}::bigint FOR UPDATE`);
}

export interface Resolution {
  actor: string;
  at: Date;
  note: string | null;
}

export async function markReinjected(
  transaction: DatabaseTransactionConnection,
  quarantineId: string,
  resolution: Resolution,
  reinjection: { body: string; outcome: IntakeOutcome },
): Promise<void> {
  await transaction.query(sql.unsafe`
    UPDATE ipn_quarantine
    SET state = 'reinjected', resolved_by = ${resolution.actor}, resolved_at = ${sql.timestamp(resolution.at)},
        resolution_note = ${resolution.note}, reinjected_body = ${reinjection.body},
        reinjected_payment_id = ${reinjection.outcome.paymentId}, reinject_outcome = ${reinjection.outcome.kind}
    WHERE quarantine_id = ${quarantineId}::bigint AND state = 'held'`);
}

export async function markDismissed(transaction: DatabaseTransactionConnection, quarantineId: string, resolution: Resolution & { note: string }): Promise<void> {
  await transaction.query(sql.unsafe`
    UPDATE ipn_quarantine
    SET state = 'dismissed', resolved_by = ${resolution.actor}, resolved_at = ${sql.timestamp(resolution.at)}, resolution_note = ${resolution.note}
    WHERE quarantine_id = ${quarantineId}::bigint AND state = 'held'`);
}

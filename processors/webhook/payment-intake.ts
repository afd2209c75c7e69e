// Turns verified, validated IPNs into their effect: a receipt for every status, and for a finished
// payment one accepted-payment row and one PaymentReceived record in the outbox — all in one
// PostgreSQL transaction, before the webhook answers.
//
// Why this is exactly once in effect (nothing lost, nothing doubled, nothing half-written):
// - The webhook_payments primary key decides "accepted": `INSERT … ON CONFLICT DO NOTHING` lets
//   exactly one delivery of a payment id through, whichever transaction commits first; a second
//   delivery (NOWPayments retries, or two concurrent ones) waits on the row, then finds it and is
//   answered `duplicate` — or is quarantined when its amounts or client differ.
// - The PaymentReceived record is written to the outbox in the same transaction as that row, so it
//   exists if and only if the payment was accepted. The outbox relay publishes it at least once
//   (acks=all); every consumer dedupes on payment_id in its inbox. A 2xx is sent only after the
//   commit: SIGKILL before it loses nothing NOWPayments will not retry, after it loses nothing.
// - Kafka and the schema registry are not on the request's path, so the webhook keeps accepting
//   payments while they are down; the relay publishes the backlog when they are back.
// - Concurrent requests share one transaction (core/group-commit.ts): the cost of a round trip
//   and a WAL flush is paid per batch, not per request. Rows are written in payment-id order so
//   two batches with overlapping ids cannot deadlock. A batch PostgreSQL refuses as a whole for a
//   reason other than an outage is retried one request at a time, so one bad request cannot
//   refuse the others.
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { createGroupCommit, type Settled } from '../../core/group-commit.ts';
import { isRetriable, PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { insertEncodedOutboxRecords, type OutboxRecord } from '../../core/processing/outbox.ts';
import { encodeAvroValue } from '../../schemas/avro-codec.ts';
import { valueTypeOf } from '../../schemas/value-types.ts';
import { classifyDatabaseError } from '../../db/errors.ts';
import { topicNames } from '../../topics/topics.ts';
import type { IpnNotification } from './ipn-notification.ts';
import { toPaymentReceived } from './payment-received.ts';

export type IntakeOutcome =
  /** Accepted: the payment row and its PaymentReceived record (in the outbox) are committed. */
  | { kind: 'produced'; paymentId: string; routable: boolean }
  | { kind: 'duplicate'; paymentId: string }
  | { kind: 'recorded'; paymentId: string; paymentStatus: string };

/** The same payment id arrived again with different amounts or client: never overwrite money facts. */
export class ConflictingPaymentError extends PipelineError {
  constructor(paymentId: string) {
    super(`payment ${paymentId} was already accepted with a different client or amounts`, {
      context: { paymentId },
    });
  }
}

export interface IntakeRequest {
  readonly notification: IpnNotification;
  readonly rawBody: string;
  readonly correlationId: string;
}

/**
 * Work a caller adds to the intake's own transaction: `before` runs first (it may lock a row and
 * throw to refuse), `after` sees the outcome; both commit or roll back with the intake. The admin
 * API's quarantine reinjection uses them, so the quarantined row is resolved exactly when the
 * payment is accepted.
 */
export interface IntakeHooks {
  before?: (transaction: DatabaseTransactionConnection) => Promise<void>;
  after?: (transaction: DatabaseTransactionConnection, outcome: IntakeOutcome) => Promise<void>;
}

export interface PaymentIntake {
  /** Without hooks the request shares a transaction with concurrent ones; with hooks it has its own. */
  accept(request: IntakeRequest, hooks?: IntakeHooks): Promise<IntakeOutcome>;
  /** Resolves once every request taken has been committed or refused (drain). */
  idle(): Promise<void>;
}

export interface PaymentIntakeOptions {
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
  /** Called after a commit that wrote outbox records (the process's relay publishes at once). */
  onRecordsWritten?: () => void;
  /** Requests per transaction at most. */
  batchSizeMax?: number;
  /** Transactions committing at once: connections of the pool the intake may hold. */
  inFlightMax?: number;
}

const acceptedPaymentRow = z.object({
  payment_id: z.string(),
  client_id: z.string(),
  usd_amount: z.string(),
  eth_amount: z.string(),
});
type AcceptedPayment = z.infer<typeof acceptedPaymentRow>;

interface Received extends IntakeRequest {
  readonly receivedAt: Date;
}

function sameFacts(notification: IpnNotification, accepted: AcceptedPayment): boolean {
  return (
    accepted.client_id === notification.order.clientId &&
    notification.priceAmount.equals(accepted.usd_amount) &&
    notification.outcomeAmount !== null &&
    notification.outcomeAmount.equals(accepted.eth_amount)
  );
}

function factsOf(notification: IpnNotification): AcceptedPayment {
  return {
    payment_id: notification.paymentId,
    client_id: notification.order.clientId,
    usd_amount: notification.priceAmount.toFixed(),
    eth_amount: notification.outcomeAmount?.toFixed() ?? '0',
  };
}

const byText = (left: string, right: string): number => (left < right ? -1 : left > right ? 1 : 0);

type EncodedPaymentRecord = OutboxRecord<'payment-received'> & { readonly payload: Buffer };

/** The outgoing record of an accepted payment, encoded once here so a value the schema refuses fails this request alone. */
function paymentRecordOf(request: Received): EncodedPaymentRecord {
  const value = toPaymentReceived(request.notification, request.receivedAt);
  const payload = encodeAvroValue(valueTypeOf('payment-received'), value, 'payment-received');
  return {
    payload,
    topic: topicNames.paymentsReceived,
    schemaName: 'payment-received',
    key: value.client_id,
    value,
    correlationId: request.correlationId,
    headers: { 'payment-id': value.payment_id },
  };
}

/** Inserts the first occurrence of each new payment id; returns the ids this transaction inserted. */
async function insertAcceptedPayments(transaction: DatabaseTransactionConnection, candidates: readonly Received[]): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const sorted = [...candidates].sort((left, right) => byText(left.notification.paymentId, right.notification.paymentId));
  const rows = await transaction.any(sql.type(z.object({ payment_id: z.string() }))`
    INSERT INTO webhook_payments (payment_id, client_id, order_id, usd_amount, eth_amount, correlation_id, accepted_at)
    SELECT * FROM unnest(
      ${sql.array(sorted.map((r) => r.notification.paymentId), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.notification.order.clientId), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.notification.orderId), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.notification.priceAmount.toFixed()), 'numeric')}::numeric[],
      ${sql.array(sorted.map((r) => r.notification.outcomeAmount?.toFixed() ?? '0'), 'numeric')}::numeric[],
      ${sql.array(sorted.map((r) => r.correlationId), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.receivedAt.toISOString()), 'timestamptz')}::timestamptz[]
    )
    ON CONFLICT (payment_id) DO NOTHING
    RETURNING payment_id
  `);
  return new Set(rows.map((row) => row.payment_id));
}

async function readAcceptedPayments(transaction: DatabaseTransactionConnection, paymentIds: readonly string[]): Promise<Map<string, AcceptedPayment>> {
  if (paymentIds.length === 0) return new Map();
  const rows = await transaction.any(sql.type(acceptedPaymentRow)`
    SELECT payment_id, client_id, usd_amount::text AS usd_amount, eth_amount::text AS eth_amount
    FROM webhook_payments WHERE payment_id = ANY(${sql.array(paymentIds, 'text')})
  `);
  return new Map(rows.map((row) => [row.payment_id, row]));
}

/** One upsert per (payment, status): repeats within the batch are counted, not written twice (PostgreSQL refuses that in one statement). */
async function recordReceipts(transaction: DatabaseTransactionConnection, requests: readonly Received[]): Promise<void> {
  const receipts = new Map<string, { request: Received; first: Date; last: Date; times: number }>();
  for (const request of requests) {
    const key = `${request.notification.paymentId}\u0000${request.notification.paymentStatus}`;
    const seen = receipts.get(key);
    if (seen === undefined) receipts.set(key, { request, first: request.receivedAt, last: request.receivedAt, times: 1 });
    else receipts.set(key, { ...seen, last: request.receivedAt > seen.last ? request.receivedAt : seen.last, times: seen.times + 1 });
  }
  if (receipts.size === 0) return;
  const sorted = [...receipts].sort(([left], [right]) => byText(left, right)).map(([, receipt]) => receipt);
  await transaction.query(sql.unsafe`
    INSERT INTO ipn_receipts (payment_id, payment_status, client_id, body, first_received_at, last_received_at, times_received)
    SELECT * FROM unnest(
      ${sql.array(sorted.map((r) => r.request.notification.paymentId), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.request.notification.paymentStatus), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.request.notification.order.clientId), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.request.rawBody), 'text')}::text[],
      ${sql.array(sorted.map((r) => r.first.toISOString()), 'timestamptz')}::timestamptz[],
      ${sql.array(sorted.map((r) => r.last.toISOString()), 'timestamptz')}::timestamptz[],
      ${sql.array(sorted.map((r) => r.times), 'int4')}::int4[]
    )
    ON CONFLICT (payment_id, payment_status) DO UPDATE
      SET last_received_at = EXCLUDED.last_received_at, times_received = ipn_receipts.times_received + EXCLUDED.times_received
  `);
}

async function routableClients(transaction: DatabaseTransactionConnection, clientIds: readonly string[]): Promise<Set<string>> {
  if (clientIds.length === 0) return new Set();
  const rows = await transaction.any(sql.type(z.object({ client_id: z.string() }))`
    SELECT client_id FROM clients WHERE client_id = ANY(${sql.array([...new Set(clientIds)], 'text')})
  `);
  return new Set(rows.map((row) => row.client_id));
}

/**
 * Applies a batch of requests inside the caller's transaction and returns one result per request.
 * A request that cannot be accepted (a conflicting payment, a record the schema refuses) gets its
 * error and leaves no trace, not even its receipt; the others are applied.
 */
export async function acceptWithin(transaction: DatabaseTransactionConnection, requests: readonly Received[]): Promise<Settled<IntakeOutcome>[]> {
  const results: (Settled<IntakeOutcome> | undefined)[] = requests.map(() => undefined);
  const records = new Map<number, EncodedPaymentRecord>();
  // The first finished request of each payment id is the candidate; later ones compare with it.
  const candidateIndex = new Map<string, number>();
  requests.forEach((request, index) => {
    if (request.notification.paymentStatus !== 'finished') return;
    try {
      records.set(index, paymentRecordOf(request));
    } catch (error) {
      results[index] = { ok: false, error };
      return;
    }
    if (!candidateIndex.has(request.notification.paymentId)) candidateIndex.set(request.notification.paymentId, index);
  });
  const candidates = [...candidateIndex.values()].flatMap((index) => requests[index] ?? []);
  const inserted = await insertAcceptedPayments(transaction, candidates);
  const earlier = await readAcceptedPayments(
    transaction,
    candidates.map((request) => request.notification.paymentId).filter((paymentId) => !inserted.has(paymentId)),
  );
  const routable = await routableClients(
    transaction,
    candidates.filter((request) => inserted.has(request.notification.paymentId)).map((request) => request.notification.order.clientId),
  );

  const outgoing: EncodedPaymentRecord[] = [];
  requests.forEach((request, index) => {
    if (results[index] !== undefined) return;
    const { notification } = request;
    if (notification.paymentStatus !== 'finished') {
      results[index] = { ok: true, value: { kind: 'recorded', paymentId: notification.paymentId, paymentStatus: notification.paymentStatus } };
      return;
    }
    const firstIndex = candidateIndex.get(notification.paymentId);
    const first = firstIndex === undefined ? undefined : requests[firstIndex];
    const acceptedHere = inserted.has(notification.paymentId);
    if (acceptedHere && firstIndex === index) {
      const record = records.get(index);
      if (record !== undefined) outgoing.push(record);
      results[index] = { ok: true, value: { kind: 'produced', paymentId: notification.paymentId, routable: routable.has(notification.order.clientId) } };
      return;
    }
    const accepted = acceptedHere && first !== undefined ? factsOf(first.notification) : earlier.get(notification.paymentId);
    results[index] =
      accepted !== undefined && sameFacts(notification, accepted)
        ? { ok: true, value: { kind: 'duplicate', paymentId: notification.paymentId } }
        : { ok: false, error: new ConflictingPaymentError(notification.paymentId) };
  });

  await recordReceipts(
    transaction,
    requests.filter((_, index) => results[index]?.ok === true),
  );
  await insertEncodedOutboxRecords(transaction, outgoing);
  return results.map((result) => result ?? { ok: false, error: new Error('intake left a request unanswered') });
}

export function createPaymentIntake(options: PaymentIntakeOptions): PaymentIntake {
  const { pool, log } = options;

  function logAccepted(requests: readonly Received[], results: readonly Settled<IntakeOutcome>[]): void {
    let written = false;
    results.forEach((result, index) => {
      const request = requests[index];
      if (!result.ok || result.value.kind !== 'produced' || request === undefined) return;
      written = true;
      const { notification, correlationId } = request;
      log.info(
        { correlationId, paymentId: notification.paymentId, clientId: notification.order.clientId, routable: result.value.routable },
        result.value.routable ? 'payment accepted' : 'payment accepted for an unregistered client: kept as unroutable',
      );
    });
    if (written) options.onRecordsWritten?.();
  }

  async function commitBatch(requests: readonly Received[]): Promise<Settled<IntakeOutcome>[]> {
    const results = await pool.transaction((transaction) => acceptWithin(transaction, requests));
    logAccepted(requests, results);
    return results;
  }

  const group = createGroupCommit<Received, IntakeOutcome>({
    batchSizeMax: options.batchSizeMax ?? 256,
    inFlightMax: options.inFlightMax ?? 4,
    async commit(requests) {
      try {
        return await commitBatch(requests);
      } catch (error) {
        // An outage fails every request alike (503, NOWPayments retries). Anything else was
        // refused by one request's values: each is tried alone so only that one fails.
        if (requests.length === 1 || isRetriable(error) || classifyDatabaseError(error).retriable) throw error;
        log.warn({ err: error, requests: requests.length }, 'intake batch refused; applying its requests one at a time');
        const results: Settled<IntakeOutcome>[] = [];
        for (const request of requests) {
          try {
            const [result] = await commitBatch([request]);
            results.push(result ?? { ok: false, error: new Error('intake returned no result') });
          } catch (alone) {
            results.push({ ok: false, error: alone });
          }
        }
        return results;
      }
    },
  });

  return {
    async accept(request, hooks) {
      const received: Received = { ...request, receivedAt: options.now() };
      if (hooks === undefined) return group.submit(received);
      const outcome = await pool.transaction(async (transaction) => {
        await hooks.before?.(transaction);
        const [result] = await acceptWithin(transaction, [received]);
        if (result === undefined) throw new Error('intake returned no result');
        if (!result.ok) throw result.error;
        await hooks.after?.(transaction, result.value);
        return result.value;
      });
      logAccepted([received], [{ ok: true, value: outcome }]);
      return outcome;
    },
    idle: () => group.idle(),
  };
}


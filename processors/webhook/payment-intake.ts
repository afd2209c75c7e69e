// Turns verified, validated IPNs into their effect: a receipt for every status, and for a finished
// payment one accepted-payment row and one PaymentReceived record in the outbox — all written by
// one PostgreSQL statement (so atomically), before the webhook answers.
//
// Why this is exactly once in effect (nothing lost, nothing doubled, nothing half-written):
// - The webhook_payments primary key decides "accepted": `INSERT … ON CONFLICT DO NOTHING` lets
//   exactly one delivery of a payment id through, whichever statement commits first; a second
//   delivery (NOWPayments retries, or two concurrent ones) waits on the row, then finds it and is
//   answered `duplicate` — or is quarantined when its amounts or client differ.
// - The PaymentReceived record is written to the outbox by the same statement as that row, from
//   its RETURNING, so it exists if and only if the payment was accepted. The outbox relay
//   publishes it at least once (acks=all); every consumer dedupes on payment_id in its inbox. A
//   2xx is sent only after the commit: SIGKILL before it loses nothing NOWPayments will not retry,
//   after it loses nothing.
// - Kafka and the schema registry are not on the request's path, so the webhook keeps accepting
//   payments while they are down; the relay publishes the backlog when they are back.
// - Concurrent requests share one statement (core/group-commit.ts, `decideBatch` below): the cost
//   of a round trip and a WAL flush is paid per batch, not per request, and a batch is one round
//   trip (it was BEGIN + 5 statements + COMMIT). Rows are written in payment-id order so two
//   batches with overlapping ids cannot deadlock. A batch PostgreSQL refuses as a whole for a
//   reason other than an outage is retried one request at a time, so one bad request cannot
//   refuse the others.
import { sql, type CommonQueryMethods, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { createGroupCommit, type Settled } from '../../core/group-commit.ts';
import { isRetriable, PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
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

interface Received extends IntakeRequest {
  readonly receivedAt: Date;
}

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

/**
 * What the statement decided for one request:
 * - `produced`: it inserted the payment row (and wrote the receipt and the outbox record);
 * - `duplicate`: the payment was accepted with the same facts (its receipt was written);
 * - `recorded`: not a finished payment (its receipt was written);
 * - `conflict`: accepted with other facts; nothing of this request was written;
 * - `unseen`: another transaction inserted the payment id while this statement waited on it, and
 *   committed after this statement's snapshot, so its facts are not visible here; nothing of this
 *   request was written, and it is decided again by a later statement, which sees them.
 */
const decidedRow = z.object({
  ord: z.number(),
  outcome: z.enum(['produced', 'duplicate', 'recorded', 'conflict', 'unseen']),
  routable: z.boolean(),
});

/** Statements per batch at most: a second is needed only for an `unseen` payment id, a third never in practice. */
const decideAttemptsMax = 3;

/**
 * One statement writes a whole batch: the payment rows, the receipts, the outbox records, and
 * reads the client registry and the facts of payments accepted earlier. Exactly once rests on the
 * same mechanisms as when these were five statements:
 * - `INSERT webhook_payments … ON CONFLICT DO NOTHING RETURNING` decides "accepted" per payment id
 *   (the primary key), so at most one request of all batches ever inserts it; the outbox record is
 *   inserted from that RETURNING in the same statement, so it exists iff the payment row does.
 * - A receipt is written only for a request decided `produced`, `duplicate` or `recorded` in this
 *   statement; a conflicting or unseen request writes nothing, as before.
 * - Every sub-statement of a statement shares one snapshot, and the inserts of the CTEs are not
 *   visible to each other: the candidates' facts are compared with the input rows (this batch's
 *   first occurrence) or with rows committed before the snapshot (`earlier`). A row that a
 *   concurrent batch committed while this INSERT waited on it is in neither: that request is
 *   `unseen` and decided again by the next statement (READ COMMITTED: a new snapshot), never
 *   guessed.
 * Rows are inserted in payment-id order (receipts in (payment id, status) order, byte order) so two
 * batches with overlapping ids lock them in the same order and cannot deadlock.
 */
async function decideBatch(
  connection: CommonQueryMethods,
  requests: readonly Received[],
  records: ReadonlyMap<number, EncodedPaymentRecord>,
  candidates: ReadonlySet<number>,
): Promise<readonly z.infer<typeof decidedRow>[]> {
  const column = <T>(of: (request: Received, index: number) => T): T[] => requests.map(of);
  const payloadOf = (index: number): string | null => (candidates.has(index) ? (records.get(index)?.payload.toString('hex') ?? null) : null);
  return connection.any(sql.type(decidedRow)`
    WITH input AS (
      SELECT * FROM unnest(
        ${sql.array(column((_, index) => index), 'int4')}::int4[],
        ${sql.array(column((r) => r.notification.paymentId), 'text')}::text[],
        ${sql.array(column((r) => r.notification.paymentStatus), 'text')}::text[],
        ${sql.array(column((r) => r.notification.order.clientId), 'text')}::text[],
        ${sql.array(column((r) => r.notification.orderId), 'text')}::text[],
        ${sql.array(column((r) => r.notification.priceAmount.toFixed()), 'numeric')}::numeric[],
        ${sql.array(column((r) => r.notification.outcomeAmount?.toFixed() ?? null), 'numeric')}::numeric[],
        ${sql.array(column((r) => r.correlationId), 'text')}::text[],
        ${sql.array(column((r) => r.receivedAt.toISOString()), 'timestamptz')}::timestamptz[],
        ${sql.array(column((r) => r.rawBody), 'text')}::text[],
        ${sql.array(column((_, index) => candidates.has(index)), 'bool')}::bool[],
        ${sql.array(column((_, index) => payloadOf(index)), 'text')}::text[],
        ${sql.array(column((_, index) => records.get(index)?.key ?? null), 'text')}::text[],
        ${sql.array(column((_, index) => JSON.stringify(records.get(index)?.headers ?? {})), 'text')}::text[]
      ) AS input (ord, payment_id, payment_status, client_id, order_id, usd_amount, eth_amount, correlation_id, received_at, body, candidate, payload_hex, message_key, headers)
    ),
    inserted AS (
      INSERT INTO webhook_payments (payment_id, client_id, order_id, usd_amount, eth_amount, correlation_id, accepted_at)
      SELECT payment_id, client_id, order_id, usd_amount, coalesce(eth_amount, 0), correlation_id, received_at
      FROM input WHERE candidate ORDER BY payment_id COLLATE "C"
      ON CONFLICT (payment_id) DO NOTHING
      RETURNING payment_id
    ),
    accepted AS (
      SELECT input.payment_id, input.client_id, input.usd_amount, input.eth_amount, true AS here
      FROM input JOIN inserted USING (payment_id) WHERE input.candidate
      UNION ALL
      SELECT earlier.payment_id, earlier.client_id, earlier.usd_amount, earlier.eth_amount, false
      FROM webhook_payments earlier
      WHERE earlier.payment_id IN (SELECT payment_id FROM input WHERE candidate)
        AND earlier.payment_id NOT IN (SELECT payment_id FROM inserted)
    ),
    decided AS (
      SELECT input.ord,
        CASE
          WHEN input.payment_status <> 'finished' THEN 'recorded'
          WHEN accepted.payment_id IS NULL THEN 'unseen'
          WHEN accepted.here AND input.candidate THEN 'produced'
          WHEN accepted.client_id = input.client_id AND accepted.usd_amount = input.usd_amount
            AND input.eth_amount IS NOT NULL AND accepted.eth_amount = input.eth_amount THEN 'duplicate'
          ELSE 'conflict'
        END AS outcome
      FROM input LEFT JOIN accepted ON accepted.payment_id = input.payment_id AND input.payment_status = 'finished'
    ),
    receipts AS (
      INSERT INTO ipn_receipts (payment_id, payment_status, client_id, body, first_received_at, last_received_at, times_received)
      SELECT input.payment_id, input.payment_status,
        (array_agg(input.client_id ORDER BY input.ord))[1], (array_agg(input.body ORDER BY input.ord))[1],
        (array_agg(input.received_at ORDER BY input.ord))[1], max(input.received_at), count(*)::int4
      FROM input JOIN decided USING (ord)
      WHERE decided.outcome IN ('produced', 'duplicate', 'recorded')
      GROUP BY input.payment_id, input.payment_status
      ORDER BY input.payment_id COLLATE "C", input.payment_status COLLATE "C"
      ON CONFLICT (payment_id, payment_status) DO UPDATE
        SET last_received_at = EXCLUDED.last_received_at, times_received = ipn_receipts.times_received + EXCLUDED.times_received
    ),
    outgoing AS (
      INSERT INTO outbox (topic, message_key, schema_name, payload, headers, correlation_id)
      SELECT ${topicNames.paymentsReceived}, input.message_key, 'payment-received', decode(input.payload_hex, 'hex'), input.headers::jsonb, input.correlation_id
      FROM input JOIN decided USING (ord)
      WHERE decided.outcome = 'produced'
      ORDER BY input.ord
    )
    SELECT decided.ord, decided.outcome,
      decided.outcome = 'produced' AND EXISTS (SELECT 1 FROM clients WHERE clients.client_id = input.client_id) AS routable
    FROM decided JOIN input USING (ord)
    ORDER BY decided.ord
  `);
}

/**
 * Applies a batch of requests on the given connection (a transaction, or the pool: then each
 * statement commits on its own, which is safe because each request's effects are written by one
 * statement) and returns one result per request. A request that cannot be accepted (a conflicting
 * payment, a record the schema refuses) gets its error and leaves no trace, not even its receipt;
 * the others are applied.
 */
export async function acceptWithin(connection: CommonQueryMethods, requests: readonly Received[]): Promise<Settled<IntakeOutcome>[]> {
  const results: (Settled<IntakeOutcome> | undefined)[] = requests.map(() => undefined);
  let pending: number[] = [];
  requests.forEach((_, index) => pending.push(index));
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    if (attempt > decideAttemptsMax) throw new Error(`intake could not see the accepted facts of ${pending.length} payments after ${decideAttemptsMax} statements`);
    const batch = pending.flatMap((index) => requests[index] ?? []);
    const records = new Map<number, EncodedPaymentRecord>();
    // The first finished, encodable request of each payment id is the candidate; later ones compare with it.
    const candidates = new Set<number>();
    const candidateIds = new Set<string>();
    const sent: number[] = [];
    const sentRequests: Received[] = [];
    batch.forEach((request, position) => {
      const index = pending[position] ?? -1;
      if (request.notification.paymentStatus === 'finished') {
        try {
          records.set(sentRequests.length, paymentRecordOf(request));
        } catch (error) {
          results[index] = { ok: false, error };
          return;
        }
        if (!candidateIds.has(request.notification.paymentId)) {
          candidateIds.add(request.notification.paymentId);
          candidates.add(sentRequests.length);
        }
      }
      sent.push(index);
      sentRequests.push(request);
    });
    if (sentRequests.length === 0) break;
    let decided: readonly z.infer<typeof decidedRow>[];
    try {
      decided = await decideBatch(connection, sentRequests, records, candidates);
    } catch (error) {
      // The first statement wrote nothing: the caller decides (one at a time, or the whole batch
      // fails). A later one fails only the requests still pending: the first one's have committed
      // when `connection` is the pool, and must keep their answers.
      if (attempt === 1) throw error;
      for (const index of pending) results[index] = { ok: false, error };
      break;
    }
    const unseen: number[] = [];
    for (const row of decided) {
      const index = sent[row.ord];
      const request = sentRequests[row.ord];
      if (index === undefined || request === undefined) continue;
      const { paymentId, paymentStatus } = request.notification;
      switch (row.outcome) {
        case 'produced':
          results[index] = { ok: true, value: { kind: 'produced', paymentId, routable: row.routable } };
          break;
        case 'duplicate':
          results[index] = { ok: true, value: { kind: 'duplicate', paymentId } };
          break;
        case 'recorded':
          results[index] = { ok: true, value: { kind: 'recorded', paymentId, paymentStatus } };
          break;
        case 'conflict':
          results[index] = { ok: false, error: new ConflictingPaymentError(paymentId) };
          break;
        case 'unseen':
          unseen.push(index);
          break;
      }
    }
    pending = unseen;
  }
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
    // On the pool, not in a transaction: the batch is one statement (one round trip, committed on
    // its own), see decideBatch.
    const results = await acceptWithin(pool, requests);
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


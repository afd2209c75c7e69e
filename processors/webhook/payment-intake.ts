// Turns a verified, validated IPN into its effect: a receipt for every status, and for a finished
// payment one PaymentReceived record on Kafka, acknowledged by all in-sync replicas.
//
// Why this is safe (nothing lost, nothing doubled, nothing half-written):
// - Everything happens inside one PostgreSQL transaction that holds an advisory lock on the
//   payment id, so two deliveries of the same IPN are serialised.
// - The webhook_payments row is written only after the broker acknowledged the record, and in
//   the same transaction as the receipt: if Kafka, the registry or PostgreSQL fails, the
//   transaction rolls back, we answer 503 and NOWPayments retries later.
// - The one gap — the broker acknowledged but the commit failed — leaves a record on the topic
//   without a row; the retry then produces it again. That duplicate is harmless by design:
//   every consumer dedupes on payment_id (the inbox table), never on offsets.
import { sql, type DatabasePool, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { Producer } from '../../core/kafka/kafka-client.ts';
import { correlationIdHeader } from '../../core/kafka/kafka-client.ts';
import { PipelineError, UnavailableError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { topicNames } from '../../topics/topics.ts';
import type { AvroSerde } from '../../schemas/registry.ts';
import type { IpnNotification } from './ipn-notification.ts';
import { toPaymentReceived } from './payment-received.ts';
import { lockForTransaction, paymentLock } from '../../db/advisory-locks.ts';

export type IntakeOutcome =
  | { kind: 'produced'; paymentId: string; routable: boolean; partition: number; offset: string }
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

export interface PaymentIntakeOptions {
  pool: DatabasePool;
  producer: Producer;
  serde: AvroSerde;
  log: Logger;
  produceTimeoutMs: number;
  now: () => Date;
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
  accept(notification: IpnNotification, rawBody: string, correlationId: string, hooks?: IntakeHooks): Promise<IntakeOutcome>;
}

const acceptedPaymentRow = z.object({
  client_id: z.string(),
  usd_amount: z.string(),
  eth_amount: z.string(),
});

export function createPaymentIntake(options: PaymentIntakeOptions): PaymentIntake {
  const { pool, producer, serde, log } = options;
  const topic = topicNames.paymentsReceived;

  async function recordReceipt(
    transaction: DatabaseTransactionConnection,
    notification: IpnNotification,
    rawBody: string,
    receivedAt: Date,
  ): Promise<void> {
    await transaction.query(sql.unsafe`
      INSERT INTO ipn_receipts (payment_id, payment_status, client_id, body, first_received_at, last_received_at)
      VALUES (${notification.paymentId}, ${notification.paymentStatus}, ${notification.order.clientId}, ${rawBody},
              ${sql.timestamp(receivedAt)}, ${sql.timestamp(receivedAt)})
      ON CONFLICT (payment_id, payment_status) DO UPDATE
        SET last_received_at = EXCLUDED.last_received_at, times_received = ipn_receipts.times_received + 1
    `);
  }

  async function produce(notification: IpnNotification, receivedAt: Date, correlationId: string) {
    const record = toPaymentReceived(notification, receivedAt);
    const value = await serde.encode(topic, 'payment-received', record);
    let deadline: NodeJS.Timeout | undefined;
    // kafkajs' own retries could hold the request far longer than NOWPayments waits; past this
    // deadline we answer 503 and roll back. If the abandoned send still lands later, the retried
    // IPN produces a second copy, which consumers drop by payment_id.
    const timedOut = new Promise<never>((_, reject) => {
      deadline = setTimeout(
        () => reject(new UnavailableError(`Kafka did not acknowledge within ${options.produceTimeoutMs} ms`)),
        options.produceTimeoutMs,
      );
    });
    try {
      const sending = producer.send({
        topic,
        acks: -1,
        timeout: options.produceTimeoutMs,
        messages: [
          {
            key: record.client_id,
            value,
            headers: { [correlationIdHeader]: correlationId, 'payment-id': record.payment_id },
          },
        ],
      });
      sending.catch(() => undefined);
      const [metadata] = await Promise.race([sending, timedOut]);
      if (metadata === undefined) throw new UnavailableError('broker returned no metadata for the produced record');
      return { partition: metadata.partition, offset: metadata.baseOffset ?? metadata.offset ?? '-1' };
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      throw new UnavailableError('Kafka did not acknowledge the payment record', { cause: error });
    } finally {
      clearTimeout(deadline);
    }
  }

  async function acceptWithin(
    transaction: DatabaseTransactionConnection,
    notification: IpnNotification,
    rawBody: string,
    correlationId: string,
    receivedAt: Date,
  ): Promise<IntakeOutcome> {
    await recordReceipt(transaction, notification, rawBody, receivedAt);
    if (notification.paymentStatus !== 'finished') {
      return { kind: 'recorded', paymentId: notification.paymentId, paymentStatus: notification.paymentStatus };
    }

    await lockForTransaction(transaction, paymentLock(notification.paymentId));
    const existing = await transaction.maybeOne(sql.type(acceptedPaymentRow)`
      SELECT client_id, usd_amount::text AS usd_amount, eth_amount::text AS eth_amount
      FROM webhook_payments WHERE payment_id = ${notification.paymentId}
    `);
    if (existing !== null) {
      const same =
        existing.client_id === notification.order.clientId &&
        notification.priceAmount.equals(existing.usd_amount) &&
        notification.outcomeAmount !== null &&
        notification.outcomeAmount.equals(existing.eth_amount);
      if (!same) throw new ConflictingPaymentError(notification.paymentId);
      return { kind: 'duplicate', paymentId: notification.paymentId };
    }

    const routable = await transaction.exists(
      sql.unsafe`SELECT 1 FROM clients WHERE client_id = ${notification.order.clientId}`,
    );
    const { partition, offset } = await produce(notification, receivedAt, correlationId);
    await transaction.query(sql.unsafe`
      INSERT INTO webhook_payments
        (payment_id, client_id, order_id, usd_amount, eth_amount, correlation_id, kafka_partition, kafka_offset, produced_at)
      VALUES (${notification.paymentId}, ${notification.order.clientId}, ${notification.orderId},
              ${notification.priceAmount.toString()}, ${notification.outcomeAmount!.toString()},
              ${correlationId}, ${partition}, ${offset}, ${sql.timestamp(receivedAt)})
    `);
    log.info(
      { correlationId, paymentId: notification.paymentId, clientId: notification.order.clientId, partition, offset, routable },
      routable ? 'payment produced' : 'payment produced for an unregistered client: kept as unroutable',
    );
    return { kind: 'produced', paymentId: notification.paymentId, routable, partition, offset };
  }

  return {
    async accept(notification, rawBody, correlationId, hooks = {}) {
      const receivedAt = options.now();
      return pool.transaction(async (transaction) => {
        await hooks.before?.(transaction);
        const outcome = await acceptWithin(transaction, notification, rawBody, correlationId, receivedAt);
        await hooks.after?.(transaction, outcome);
        return outcome;
      });
    },
  };
}

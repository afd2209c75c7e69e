// What settlement's tests start from, written the way the pipeline's own writers write it: a
// registered client (as the admin API stores it), a conversion batch whose members are swapping
// (as the accumulator forms it), an instant payment with its payout batch (as the router routes
// it), and SwapEvents produced to swap-events (as the ChangeNow connector reports).
import { randomUUID } from 'node:crypto';
import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Decimal } from '../../core/money.ts';
import type { SwapEvent } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { uniqueClientId, uniquePaymentId } from './ipn.ts';
import type { TopicProducer } from './topic-producer.ts';

export const xmrWalletA = '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';
export const xmrWalletB = '4AAUTuTFbdpY3hMi7QJTzZ3pzg6pyEHqp23ELXujriEd1T4q2FqXtyFXY7AUhozXuCbeiGv5u7K5JCydaZDXikvL1zKo3cU';

export interface TestClient {
  readonly clientId: string;
  readonly walletAddress: string;
}

export async function registerClient(
  database: DatabasePool,
  options: { strategy?: 'threshold' | 'instant'; thresholdUsd?: string; walletAddress?: string; payoutCurrency?: string; payoutNetwork?: string } = {},
): Promise<TestClient> {
  const clientId = uniqueClientId();
  const strategy = options.strategy ?? 'threshold';
  const walletAddress = options.walletAddress ?? xmrWalletA;
  await database.query(sql.unsafe`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network)
    VALUES (${clientId}, 1, ${strategy}, ${strategy === 'threshold' ? (options.thresholdUsd ?? '500') : null}::numeric, ${walletAddress},
            ${options.payoutCurrency ?? 'xmr'}, ${options.payoutNetwork ?? 'xmr'})`);
  return { clientId, walletAddress };
}

/** A wallet change that has taken effect (its cooldown passed), as the admin's sweep applies it. */
export async function changeWallet(database: DatabasePool, clientId: string, walletAddress: string): Promise<void> {
  await database.query(sql.unsafe`
    UPDATE clients SET wallet_address = ${walletAddress}, revision = revision + 1, updated_at = now() WHERE client_id = ${clientId}`);
}

export interface TestPayment {
  readonly paymentId: string;
  readonly clientId: string;
  readonly usdNet: Decimal;
  readonly ethNet: Decimal;
}

const feeRow = z.object({ payment_id: z.string(), client_id: z.string(), usd_net: decimalColumn, eth_net: decimalColumn });

/** Ledger rows with the router's 3% fee on both sides; ETH at 3,000 USD. */
async function insertLedgerRows(
  database: CommonQueryMethods,
  rows: readonly { clientId: string; usdGross: string }[],
  state: 'swapping' | 'instant_payout',
  batch: { conversionBatchId: string | null; payoutBatchIdOf: (paymentId: string) => string | null },
): Promise<TestPayment[]> {
  const paymentIds = rows.map(() => uniquePaymentId());
  const inserted = await database.any(sql.type(feeRow)`
    INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent,
                                usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net,
                                conversion_batch_id, payout_batch_id, paid_at, received_at, routed_at)
    SELECT p.payment_id, p.client_id, '42', '7', ${state}, 3,
           p.usd_gross, round(p.usd_gross * 3 / 100, 8), p.usd_gross - round(p.usd_gross * 3 / 100, 8),
           round(p.usd_gross / 3000, 18), round(round(p.usd_gross / 3000, 18) * 3 / 100, 18),
           round(p.usd_gross / 3000, 18) - round(round(p.usd_gross / 3000, 18) * 3 / 100, 18),
           ${batch.conversionBatchId}, p.payout_batch_id, now(), now(), now()
    FROM unnest(${sql.array(paymentIds, 'text')}::text[], ${sql.array(rows.map((row) => row.clientId), 'text')}::text[],
                ${sql.array(rows.map((row) => row.usdGross), 'numeric')}::numeric[],
                ${sql.array(paymentIds.map((id) => batch.payoutBatchIdOf(id)), 'text')}::text[])
         AS p (payment_id, client_id, usd_gross, payout_batch_id)
    RETURNING payment_id, client_id, usd_net, eth_net`);
  const byId = new Map(inserted.map((row) => [row.payment_id, row]));
  return paymentIds.map((paymentId) => {
    const row = byId.get(paymentId);
    if (row === undefined) throw new Error(`payment ${paymentId} not inserted`);
    return { paymentId, clientId: row.client_id, usdNet: row.usd_net, ethNet: row.eth_net };
  });
}

export interface PlantedConversion {
  readonly batchId: string;
  readonly payments: readonly TestPayment[];
}

/** A conversion batch as the accumulator closes it: the batch row, its members swapping. */
export async function plantConversionBatch(database: DatabasePool, members: readonly { clientId: string; usdGross: string }[]): Promise<PlantedConversion> {
  const batchId = `conv-${randomUUID()}`;
  return database.transaction(async (transaction) => {
    // Totals are set after the members exist: the accumulator computes them from the same rows.
    await transaction.query(sql.unsafe`
      INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
      VALUES (${batchId}, 'requested', 'threshold', ${members.length}, 1, 1, 20, now())`);
    const payments = await insertLedgerRows(transaction, members, 'swapping', { conversionBatchId: batchId, payoutBatchIdOf: () => null });
    await transaction.query(sql.unsafe`
      UPDATE conversion_batches b SET total_usd = t.usd, total_eth = t.eth
      FROM (SELECT sum(usd_net) AS usd, sum(eth_net) AS eth FROM payment_ledger WHERE conversion_batch_id = ${batchId}) t
      WHERE b.batch_id = ${batchId}`);
    return { batchId, payments };
  });
}

/** An instant payment as the router routes it: the ledger row, its own payout batch of its net ETH. */
export async function plantInstantPayment(database: DatabasePool, client: TestClient, usdGross: string): Promise<{ payment: TestPayment; batchId: string }> {
  const [payment] = await insertLedgerRows(database, [{ clientId: client.clientId, usdGross }], 'instant_payout', {
    conversionBatchId: null,
    payoutBatchIdOf: (paymentId) => `instant-${paymentId}`,
  });
  if (payment === undefined) throw new Error('no instant payment');
  const batchId = `instant-${payment.paymentId}`;
  await database.query(sql.unsafe`
    INSERT INTO payout_batches (batch_id, client_id, reason, state, wallet_address, payout_currency, payout_network, source_currency, source_amount, usd_value, created_at)
    VALUES (${batchId}, ${client.clientId}, 'instant', 'requested', ${client.walletAddress}, 'xmr', 'xmr', 'eth', ${payment.ethNet.toFixed()}::numeric,
            ${payment.usdNet.toFixed()}::numeric, now())`);
  return { payment, batchId };
}

export function swapEvent(fields: Pick<SwapEvent, 'command_id' | 'command_kind' | 'type'> & Partial<SwapEvent>): SwapEvent {
  return {
    event_id: randomUUID(),
    exchange_id: null,
    status: null,
    pay_in_address: null,
    amount_from: null,
    amount_to: null,
    payin_hash: null,
    payout_hash: null,
    failure_reason: null,
    occurred_at: new Date(),
    ...fields,
  };
}

export async function produceSwapEvent(producer: TopicProducer, event: SwapEvent): Promise<void> {
  await producer.send(topicNames.swapEvents, 'swap-event', event.command_id, event);
}

export function usdt(text: string): Decimal {
  return new Decimal(text);
}

// The whole money loop on the real stack, every processor its own process: IPNs into the webhook,
// router, accumulator, the ChangeNow connector against the simulator, the chain connector on the
// local EVM, settlement, the admin API. The platform's reference scenario:
//   - several clients' small payments form one global micro-batch ($20 threshold) whose USDT is
//     shared out exactly;
//   - an instant client is paid alongside, ETH → their currency, on their wallet;
//   - a client with a $500 threshold receives $125 payments until the threshold is crossed, and only
//     then is paid — on chain, on their own wallet — once.
// Then the books: every payment converted, credited and paid exactly once, lineage and balance
// answered by the admin API, and reconciliation clean.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Decimal, toBaseUnits } from '../core/money.ts';
import { decimalColumn } from '../db/column-types.ts';
import { findViolations, formatViolations } from '../db/reconciliation.ts';
import type { PayoutCompleted } from '../schemas/generated/records.ts';
import { topicNames } from '../topics/topics.ts';
import { formatOrderId } from '../processors/webhook/order-id.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { finishedIpn, jsonNumber, paymentIdOf, postIpn, uniqueClientId } from './support/ipn.ts';
import { ethBalanceOf, freshAddress, usdtBalanceOf } from './support/local-evm.ts';
import { createWholePipeline } from './support/whole-pipeline.ts';
import { readTopic } from './support/topic-records.ts';

const endpoints = inject('endpoints');
/** The simulator's ETH price: IPNs carry ETH amounts at the same rate, as a real payment would. */
const ethUsd = new Decimal('3000');

let database: DatabasePool;
const pipeline = createWholePipeline({ readyTimeoutMs: 120_000 });
const { start, url, admin } = pipeline;

async function register(clientId: string, config: Record<string, string>): Promise<void> {
  const answer = await admin('PUT', `/api/clients/${clientId}`, config);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
}

/** A finished payment of `usd` for the client, its ETH at the simulator's price. */
async function pay(clientId: string, usd: string, index: number): Promise<string> {
  const eth = new Decimal(usd).dividedBy(ethUsd).toDecimalPlaces(12, Decimal.ROUND_DOWN).toFixed();
  const ipn = finishedIpn({
    order_id: formatOrderId({ clientId, userId: String(7_000 + index), subscriptionId: String(index) }),
    price_amount: jsonNumber(usd),
    pay_amount: jsonNumber(eth),
    actually_paid: jsonNumber(eth),
    outcome_amount: jsonNumber(eth),
  });
  const answer = await postIpn(url('webhook'), ipn);
  expect(answer.status).toBe(202);
  return paymentIdOf(ipn);
}

const ledgerRow = z.object({
  payment_id: z.string(),
  client_id: z.string(),
  state: z.string(),
  usd_net: decimalColumn,
  conversion_batch_id: z.string().nullable(),
  paid_out_at: z.date().nullable(),
});

async function ledgerOf(paymentIds: readonly string[]): Promise<readonly z.infer<typeof ledgerRow>[]> {
  return database.any(sql.type(ledgerRow)`
    SELECT payment_id, client_id, state, usd_net, conversion_batch_id, paid_out_at
    FROM payment_ledger WHERE payment_id = ANY(${sql.array(paymentIds, 'text')}) ORDER BY payment_id`);
}

const creditRow = z.object({ payment_id: z.string(), usdt_amount: decimalColumn, payout_batch_id: z.string().nullable(), paid_out_at: z.date().nullable() });

async function creditsOf(paymentIds: readonly string[]): Promise<readonly z.infer<typeof creditRow>[]> {
  return database.any(sql.type(creditRow)`
    SELECT payment_id, usdt_amount, payout_batch_id, paid_out_at FROM usdt_credits
    WHERE payment_id = ANY(${sql.array(paymentIds, 'text')})`);
}

const payoutRow = z.object({
  batch_id: z.string(),
  reason: z.string(),
  state: z.string(),
  source_amount: decimalColumn,
  payout_amount: decimalColumn.nullable(),
  payout_hash: z.string().nullable(),
});

async function payoutBatchesOf(clientId: string): Promise<readonly z.infer<typeof payoutRow>[]> {
  return database.any(sql.type(payoutRow)`
    SELECT batch_id, reason, state, source_amount, payout_amount, payout_hash FROM payout_batches WHERE client_id = ${clientId} ORDER BY created_at`);
}

const conversionRow = z.object({ batch_id: z.string(), state: z.string(), usdt_received: decimalColumn.nullable(), credited: decimalColumn.nullable() });

async function conversionOf(batchId: string): Promise<z.infer<typeof conversionRow>> {
  return database.one(sql.type(conversionRow)`
    SELECT b.batch_id, b.state, b.usdt_received, (SELECT sum(c.usdt_amount) FROM usdt_credits c WHERE c.conversion_batch_id = b.batch_id) AS credited
    FROM conversion_batches b WHERE b.batch_id = ${batchId}`);
}

async function payoutsCompletedFor(clientId: string): Promise<PayoutCompleted[]> {
  return (await readTopic(endpoints, topicNames.payoutsCompleted)).map((record) => record.value as PayoutCompleted).filter((record) => record.client_id === clientId);
}

const smallClients = [uniqueClientId(), uniqueClientId(), uniqueClientId()];
const instantClient = uniqueClientId();
const thresholdClient = uniqueClientId();
const instantWallet = freshAddress();
const thresholdWallet = freshAddress();
const smallPayments: string[] = [];
let instantPayment = '';
const thresholdPayments: string[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  // Only this file's records: commands other files left on the topics are not this file's to run.
  await pipeline.skipEarlierCommands();
  await Promise.all((['webhook', 'admin', 'router', 'changenow', 'chain', 'settlement'] as const).map((name) => start(name)));
  // Tests before this file may have moved the global threshold; this scenario is the seeds' $20.
  expect((await admin('PUT', '/api/config/micro-batch-threshold', { value: '20' })).status).toBe(200);
}, 240_000);

afterAll(async () => {
  await pipeline.stop();
  await database?.end();
});

describe('the seeds scenario, end to end', () => {
  it('forms one $20 micro-batch from several clients’ payments and shares its USDT out exactly', async () => {
    for (const clientId of smallClients) {
      await register(clientId, { strategy: 'threshold', threshold_usd: '50', wallet_address: freshAddress(), payout_currency: 'eth', payout_network: 'eth' });
    }
    // $8 + $9 + $7 gross is $23.28 net: over $20 only together. They are routed before the
    // accumulator starts, so its first evaluation sees all three at once.
    const amounts = ['8', '9', '7'];
    for (const [index, clientId] of smallClients.entries()) smallPayments.push(await pay(clientId, amounts[index] ?? '8', index));
    await eventually(async () => expect((await ledgerOf(smallPayments)).map((row) => row.state)).toEqual(['pending_conversion', 'pending_conversion', 'pending_conversion']), { timeoutMs: 30_000 });
    await start('accumulator');

    const converted = await eventually(
      async () => {
        const rows = await ledgerOf(smallPayments);
        expect(rows.map((row) => row.state)).toEqual(['converted', 'converted', 'converted']);
        return rows;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const batchIds = new Set(converted.map((row) => row.conversion_batch_id));
    expect(batchIds.size).toBe(1);
    const [batchId] = [...batchIds];
    const conversion = await conversionOf(batchId ?? '');
    expect(conversion.state).toBe('finished');
    expect(conversion.usdt_received?.isPositive()).toBe(true);
    // Σ shares = USDT received, exactly (other files' leftovers may share this batch: all credits count).
    expect(conversion.credited?.equals(conversion.usdt_received ?? new Decimal(-1))).toBe(true);
    const credits = await creditsOf(smallPayments);
    expect(credits).toHaveLength(3);
    expect(credits.every((credit) => credit.paid_out_at === null)).toBe(true);

    // Below their $50 thresholds: each small client sees why it is not paid yet, and how much is missing.
    const balance = await admin('GET', `/api/clients/${smallClients[0] ?? ''}/balance`);
    expect(balance.status).toBe(200);
    const groups = balance.body['groups'] as { state: string; amount_missing_usdt: string | null }[];
    expect(groups.map((group) => group.state)).toEqual(['below_threshold']);
    expect(new Decimal(groups[0]?.amount_missing_usdt ?? '0').isPositive()).toBe(true);
  }, 180_000);

  it('pays an instant client alongside: one exchange ETH → USDT onto their wallet, marked paid once', async () => {
    await register(instantClient, { strategy: 'instant', wallet_address: instantWallet, payout_currency: 'usdt', payout_network: 'eth' });
    instantPayment = await pay(instantClient, '30', 100);

    const [completed] = await eventually(
      async () => {
        const records = await payoutsCompletedFor(instantClient);
        expect(records).toHaveLength(1);
        return records;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(completed?.payout_currency).toBe('usdt');
    expect(await usdtBalanceOf(instantWallet)).toBe(toBaseUnits(completed?.payout_amount ?? new Decimal(-1), 6));
    const [payment] = await ledgerOf([instantPayment]);
    expect(payment).toMatchObject({ state: 'instant_payout' });
    expect(payment?.paid_out_at).not.toBeNull();
    const batches = await payoutBatchesOf(instantClient);
    expect(batches.map((batch) => [batch.reason, batch.state])).toEqual([['instant', 'finished']]);
  }, 120_000);

  it('pays the $500-threshold client once its credits cross the threshold, on their wallet, and not before', async () => {
    await register(thresholdClient, { strategy: 'threshold', threshold_usd: '500', wallet_address: thresholdWallet, payout_currency: 'eth', payout_network: 'eth' });

    // One $125 payment at a time (four stay below $500 after the fees, the fifth crosses), each converted and credited before the next, until a payout forms.
    let creditedBefore = new Decimal(0);
    for (let index = 0; index < 20; index += 1) {
      thresholdPayments.push(await pay(thresholdClient, '125', 200 + index));
      const credits = await eventually(
        async () => {
          const rows = await creditsOf(thresholdPayments);
          expect(rows).toHaveLength(thresholdPayments.length);
          return rows;
        },
        { timeoutMs: 90_000, intervalMs: 300 },
      );
      const credited = credits.reduce((sum, credit) => sum.plus(credit.usdt_amount), new Decimal(0));
      if (credited.greaterThanOrEqualTo(500)) {
        expect(creditedBefore.lessThan(500)).toBe(true);
        process.stdout.write(`[e2e] $500 threshold crossed by payment ${thresholdPayments.length}: ${creditedBefore.toFixed()} → ${credited.toFixed()} USDT credited\n`);
        break;
      }
      creditedBefore = credited;
      // Below the threshold nothing is paid: no payout batch, and the balance says what is missing.
      expect(await payoutBatchesOf(thresholdClient)).toEqual([]);
    }
    expect(thresholdPayments.length).toBeGreaterThan(1);

    const [batch] = await eventually(
      async () => {
        const batches = await payoutBatchesOf(thresholdClient);
        expect(batches.map((row) => [row.reason, row.state])).toEqual([['threshold', 'finished']]);
        return batches;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    if (batch === undefined || batch.payout_amount === null) throw new Error('the payout batch finished with an amount');
    // The client's wallet on the local chain received exactly what the exchange paid out.
    expect(await ethBalanceOf(thresholdWallet)).toBe(toBaseUnits(batch.payout_amount, 18));
    expect(batch.payout_hash).toMatch(/^0x[0-9a-f]{64}$/);

    // Every payment converted, credited once, paid out once, by this batch.
    const ledger = await ledgerOf(thresholdPayments);
    expect(ledger.every((row) => row.state === 'converted' && row.paid_out_at !== null)).toBe(true);
    const credits = await creditsOf(thresholdPayments);
    expect(credits).toHaveLength(thresholdPayments.length);
    expect(credits.every((credit) => credit.payout_batch_id === batch.batch_id && credit.paid_out_at !== null)).toBe(true);
    expect(batch.source_amount.equals(credits.reduce((sum, credit) => sum.plus(credit.usdt_amount), new Decimal(0)))).toBe(true);

    const completed = await eventually(
      async () => {
        const records = await payoutsCompletedFor(thresholdClient);
        expect(records).toHaveLength(1);
        return records;
      },
      { timeoutMs: 30_000 },
    );
    expect(completed[0]).toMatchObject({ payout_batch_id: batch.batch_id, wallet_address: thresholdWallet, payout_hash: batch.payout_hash });

    // Lineage: the batch traces back to each payment, with the rate at each hop.
    const lineage = await admin('GET', `/api/payout-batches/${batch.batch_id}`);
    expect(lineage.status).toBe(200);
    const traced = (lineage.body['credits'] as { payment: { payment_id: string; usd_per_eth: string }; conversion: { usdt_per_eth: string | null } }[]) ?? [];
    expect(traced.map((credit) => credit.payment.payment_id).sort()).toEqual([...thresholdPayments].sort());
    expect(traced.every((credit) => credit.payment.usd_per_eth !== '' && credit.conversion.usdt_per_eth !== null)).toBe(true);
    const balance = await admin('GET', `/api/clients/${thresholdClient}/balance`);
    expect(balance.body['groups']).toEqual([]);
  }, 600_000);

  it('leaves books that reconcile: no violation anywhere in the database', async () => {
    const violations = await database.connect((connection) => findViolations(connection));
    expect(violations, formatViolations(violations)).toEqual([]);
    const answer = await admin('GET', '/api/reconciliation');
    expect(answer.body).toMatchObject({ ok: true, violations: [] });
  }, 60_000);
});

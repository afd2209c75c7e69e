// Every payout route pays: for each strategy (instant, threshold) × each (currency, network) of the
// supported payout table, one client is paid through the whole real pipeline in one run — a signed
// IPN into the webhook, out as a finished payout — and each is checked on the chain (the wallet's
// balance) or, for currencies the local chain does not carry, in the ChangeNow simulator's own
// records; then its lineage through the admin API, and the reconciliation of the whole database.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Decimal, toBaseUnits } from '../core/money.ts';
import { decimalColumn } from '../db/column-types.ts';
import { findViolations, formatViolations } from '../db/reconciliation.ts';
import { payoutPairs, type PayoutPair } from '../processors/admin/payout-currencies.ts';
import type { AddressFormat } from '../processors/admin/address-format.ts';
import { findSimulatedCurrency } from '../connectors/changenow-simulator/simulated-currencies.ts';
import type { PayoutCompleted } from '../schemas/generated/records.ts';
import { topicNames } from '../topics/topics.ts';
import { formatOrderId } from '../processors/webhook/order-id.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { simulatorExchanges } from './support/changenow-simulator.ts';
import { finishedIpn, jsonNumber, paymentIdOf, postIpn, uniqueClientId } from './support/ipn.ts';
import { ethBalanceOf, freshAddress, usdtBalanceOf } from './support/local-evm.ts';
import { createWholePipeline, pipelineProcessorNames } from './support/whole-pipeline.ts';
import { readTopic } from './support/topic-records.ts';

const endpoints = inject('endpoints');
/** The simulator's ETH price: IPNs carry ETH amounts at the same rate, as a real payment would. */
const ethUsd = new Decimal('3000');

/**
 * A valid address per format for currencies paid out by the simulator (the local chain has no such
 * chain). A Record over every format: a new format does not compile until it has a sample here.
 */
const sampleAddresses: Readonly<Record<Exclude<AddressFormat, 'evm'>, string>> = {
  monero: '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A',
  bitcoin: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
  litecoin: 'ltc1qucfgk0p5sxuxt0ckx5n0jj27nwschp42x6wkj3',
  dogecoin: 'D7uLMxRmQcXjXQP5ZSi5T8kVA75apXyJNb',
  'bitcoin-cash': 'bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a',
  tron: 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t',
  solana: '3KPzfMygzKcwVcmmKqxuTebd81JhXzbXhNmpgqyJjo7G',
};

type Strategy = 'instant' | 'threshold';

interface Combination {
  readonly name: string;
  readonly strategy: Strategy;
  readonly pair: PayoutPair;
  readonly clientId: string;
  /** EVM wallets are fresh, so their balance starts at zero and must end at exactly the payout. */
  readonly wallet: string;
  /** The base units of the local chain's asset the wallet receives; null: paid by the simulator off-chain. */
  readonly onChainDecimals: number | null;
  /** What the pipeline pays from: an instant payment's ETH, or the client's credited USDT. */
  readonly source: { readonly currency: string; readonly network: string };
  readonly usd: string;
  paymentId: string;
}

/** Threshold clients get one payment over their $50 threshold, large enough for any pair's fee floor. */
const thresholdUsd = '50';
const paymentUsd: Readonly<Record<Strategy, string>> = { instant: '30', threshold: '100' };

function combinationOf(strategy: Strategy, pair: PayoutPair): Combination {
  const simulated = findSimulatedCurrency(pair.currency, pair.network);
  if (simulated === undefined) throw new Error(`the simulator does not trade ${pair.currency}/${pair.network}: add it to connectors/changenow-simulator/simulated-currencies.ts`);
  const onChain = simulated.payoutKind !== 'synthetic';
  return {
    name: `${strategy} → ${pair.currency}/${pair.network}`,
    strategy,
    pair,
    clientId: uniqueClientId(),
    wallet: pair.addressFormat === 'evm' ? freshAddress() : sampleAddresses[pair.addressFormat],
    onChainDecimals: onChain ? simulated.decimals : null,
    source: strategy === 'instant' ? { currency: 'eth', network: 'eth' } : { currency: 'usdt', network: 'eth' },
    usd: paymentUsd[strategy],
    paymentId: '',
  };
}

// Generated from the supported table: a pair added there is paid here without touching this file.
const combinations: readonly Combination[] = (['instant', 'threshold'] as const).flatMap((strategy) => payoutPairs.map((pair) => combinationOf(strategy, pair)));

let database: DatabasePool;
// Generous: seven processes compile and start at once.
const pipeline = createWholePipeline({ readyTimeoutMs: 300_000 });
const { start, url, admin } = pipeline;

async function register(combination: Combination): Promise<void> {
  const { strategy, pair, wallet } = combination;
  const config = { strategy, ...(strategy === 'threshold' ? { threshold_usd: thresholdUsd } : {}), wallet_address: wallet, payout_currency: pair.currency, payout_network: pair.network };
  const answer = await admin('PUT', `/api/clients/${combination.clientId}`, config);
  expect(answer.status, `${combination.name}: ${JSON.stringify(answer.body)}`).toBe(201);
}

async function pay(combination: Combination, index: number): Promise<string> {
  const eth = new Decimal(combination.usd).dividedBy(ethUsd).toDecimalPlaces(12, Decimal.ROUND_DOWN).toFixed();
  const ipn = finishedIpn({
    order_id: formatOrderId({ clientId: combination.clientId, userId: String(9_000 + index), subscriptionId: String(index) }),
    price_amount: jsonNumber(combination.usd),
    pay_amount: jsonNumber(eth),
    actually_paid: jsonNumber(eth),
    outcome_amount: jsonNumber(eth),
  });
  const answer = await postIpn(url('webhook'), ipn);
  expect(answer.status, combination.name).toBe(202);
  return paymentIdOf(ipn);
}

const payoutRow = z.object({
  batch_id: z.string(),
  client_id: z.string(),
  reason: z.string(),
  state: z.string(),
  source_currency: z.string(),
  source_amount: decimalColumn,
  payout_amount: decimalColumn.nullable(),
  exchange_id: z.string().nullable(),
  payout_hash: z.string().nullable(),
});
type PayoutRow = z.infer<typeof payoutRow>;

async function payoutBatchesOf(clientIds: readonly string[]): Promise<readonly PayoutRow[]> {
  return database.any(sql.type(payoutRow)`
    SELECT batch_id, client_id, reason, state, source_currency, source_amount, payout_amount, exchange_id, payout_hash
    FROM payout_batches WHERE client_id = ANY(${sql.array(clientIds, 'text')}) ORDER BY created_at`);
}

/** What each client's balance says about its unpaid money, for a failure message that names the wait. */
async function waitsOf(pending: readonly Combination[]): Promise<string> {
  const lines = await Promise.all(
    pending.map(async (combination) => {
      const balance = await admin('GET', `/api/clients/${combination.clientId}/balance`);
      const groups = (balance.body['groups'] as { state: string; reason: string }[] | undefined) ?? [];
      return `${combination.name}: ${groups.map((group) => `${group.state} (${group.reason})`).join('; ') || 'no unpaid group'}`;
    }),
  );
  return lines.join('\n');
}

const finishedBatches = new Map<string, PayoutRow>();

beforeAll(async () => {
  database = await openTestDatabase();
  // Only this file's records: commands other files left on the topics are not this file's to run.
  await pipeline.skipEarlierCommands();
  await Promise.all(pipelineProcessorNames.map((name) => start(name)));
  expect((await admin('PUT', '/api/config/micro-batch-threshold', { value: '20' })).status).toBe(200);
}, 420_000);

afterAll(async () => {
  await pipeline.stop();
  await database?.end();
});

describe('the payout matrix: every strategy × every supported payout currency', () => {
  it('covers every supported pair for both strategies', () => {
    expect(combinations).toHaveLength(payoutPairs.length * 2);
    process.stdout.write(`[payout-matrix] ${combinations.length} combinations: ${combinations.map((combination) => combination.name).join(', ')}\n`);
  });

  it('pays every combination once, from one IPN each, all in one pipeline', async () => {
    for (const combination of combinations) await register(combination);
    for (const [index, combination] of combinations.entries()) combination.paymentId = await pay(combination, index);

    const clientIds = combinations.map((combination) => combination.clientId);
    try {
      await eventually(
        async () => {
          const batches = await payoutBatchesOf(clientIds);
          const finished = batches.filter((batch) => batch.state === 'finished');
          // Recorded before the check, so the per-combination tests below fail only for the unpaid ones.
          for (const batch of finished) finishedBatches.set(batch.client_id, batch);
          expect(finished.map((batch) => batch.client_id).sort()).toEqual([...clientIds].sort());
        },
        { timeoutMs: 300_000, intervalMs: 1_000 },
      );
    } finally {
      const unpaid = combinations.filter((combination) => !finishedBatches.has(combination.clientId));
      if (unpaid.length > 0) process.stdout.write(`[payout-matrix] not paid:\n${await waitsOf(unpaid)}\n`);
    }
    // Each client's money went out once: one batch, none failed or retried.
    const batches = await payoutBatchesOf(clientIds);
    expect(batches.map((batch) => `${batch.client_id} ${batch.reason} ${batch.state}`).sort()).toEqual(
      combinations.map((combination) => `${combination.clientId} ${combination.strategy} finished`).sort(),
    );
  }, 360_000);

  it.each(combinations.map((combination) => [combination.name, combination] as const))('%s: the client received the payout', async (_name, combination) => {
    const batch = finishedBatches.get(combination.clientId);
    if (batch === undefined || batch.payout_amount === null || batch.payout_hash === null) throw new Error(`${combination.name} was not paid`);
    expect(batch.source_currency).toBe(combination.source.currency);
    expect(batch.payout_amount.isPositive()).toBe(true);
    const direct = combination.source.currency === combination.pair.currency && combination.source.network === combination.pair.network;
    const exchanges = await simulatorExchanges(batch.batch_id);
    if (direct) {
      // Same asset on both sides: a transfer, never an exchange, and the whole amount arrives.
      expect(exchanges).toEqual([]);
      expect(batch.exchange_id).toBeNull();
      expect(batch.payout_amount.equals(batch.source_amount)).toBe(true);
    } else {
      expect(exchanges.map((exchange) => [exchange.id, exchange.status, exchange.payoutAddress])).toEqual([[batch.exchange_id, 'finished', combination.wallet]]);
      expect(exchanges[0]?.payoutHash).toBe(batch.payout_hash);
      expect(exchanges[0]?.amountTo?.equals(batch.payout_amount)).toBe(true);
    }
    if (combination.onChainDecimals === null) {
      expect(batch.payout_hash).toMatch(new RegExp(`^simulated:${combination.pair.currency}:[0-9a-f]{64}$`));
    } else {
      expect(batch.payout_hash).toMatch(/^0x[0-9a-f]{64}$/);
      const balance = combination.pair.currency === 'eth' ? await ethBalanceOf(combination.wallet) : await usdtBalanceOf(combination.wallet);
      expect(balance).toBe(toBaseUnits(batch.payout_amount, combination.onChainDecimals));
    }
  });

  it.each(combinations.map((combination) => [combination.name, combination] as const))('%s: the lineage traces the payout to its payment', async (_name, combination) => {
    const batch = finishedBatches.get(combination.clientId);
    if (batch === undefined) throw new Error(`${combination.name} was not paid`);
    const lineage = await admin('GET', `/api/payout-batches/${batch.batch_id}`);
    expect(lineage.status).toBe(200);
    expect(lineage.body['payout_batch']).toMatchObject({ state: 'finished', payout_hash: batch.payout_hash, wallet_address: combination.wallet, payout_currency: combination.pair.currency });
    const credits = (lineage.body['credits'] as { payment: { payment_id: string; paid_out_at: string | null }; conversion: { usdt_per_eth: string | null } }[]) ?? [];
    const instantPayments = (lineage.body['instant_payments'] as { payment_id: string; paid_out_at: string | null }[]) ?? [];
    const traced = combination.strategy === 'instant' ? instantPayments : credits.map((credit) => credit.payment);
    expect(traced.map((payment) => payment.payment_id)).toEqual([combination.paymentId]);
    expect(traced.every((payment) => payment.paid_out_at !== null)).toBe(true);
    if (combination.strategy === 'threshold') expect(credits.every((credit) => credit.conversion.usdt_per_eth !== null)).toBe(true);
    const balance = await admin('GET', `/api/clients/${combination.clientId}/balance`);
    expect(balance.body['groups']).toEqual([]);
  });

  it('reports each payout once on payouts-completed', async () => {
    const completed = (await readTopic(endpoints, topicNames.payoutsCompleted)).map((record) => record.value as PayoutCompleted);
    for (const combination of combinations) {
      const batch = finishedBatches.get(combination.clientId);
      expect(completed.filter((record) => record.client_id === combination.clientId).map((record) => record.payout_batch_id), combination.name).toEqual([batch?.batch_id]);
    }
  });

  it('leaves books that reconcile: no violation anywhere in the database', async () => {
    const violations = await database.connect((connection) => findViolations(connection));
    expect(violations, formatViolations(violations)).toEqual([]);
  });
});

// Proves the incremental payout window's running state on the real stack (database, ChangeNow
// simulator for the quotes): a notification lost while the listener was away is made good by the
// rebuild on reconnect; a batch formed by another instance leaves ours stale-high and costs one
// decision that forms nothing; a threshold lowered by a configuration change is decided on the
// next check. The notifications are handed to the window as the listener hands them, with the
// payloads the writers send (db/settlement-notifications.ts).
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { createMetricsRegistry } from '../../core/metrics.ts';
import { createChangeNowClient } from '../../connectors/changenow/changenow-client.ts';
import { createEvmRpc } from '../../connectors/chain/evm-rpc.ts';
import { encodeClientChanged, encodeCreditsIssued } from '../../db/settlement-notifications.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { localChangeNowApiKey } from '../../test/support/changenow-simulator.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { plantConversionBatch, registerClient, xmrWalletA, type TestClient } from '../../test/support/settlement-fixtures.ts';
import { Decimal } from '../../core/money.ts';
import { distributeConversion, lockConversionBatch } from './conversion-store.ts';
import { findViolations } from '../../db/reconciliation.ts';
import { createChosenGroupsEvaluator } from './payout-window-evaluation.ts';
import { createIncrementalPayoutWindow, type IncrementalPayoutWindow } from './incremental-payout-window.ts';
import { createQuoteCache } from './payout-quotes.ts';
import { createTransferFeeSource } from './transfer-fee-source.ts';
import { payoutWindowRulesOf } from './start-settlement.ts';
import type { GroupKey } from './payout-window.ts';

const endpoints = inject('endpoints');
const log = createLogger({ name: 'incremental-payout-window-test', level: 'silent' });
let database: DatabasePool;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  if (database !== undefined) expect(await findViolations(database)).toEqual([]);
  await database?.end();
});

function createWindow(): IncrementalPayoutWindow {
  const config = loadConfig(testStackEnvironment(process.env));
  const now = (): Date => new Date();
  const quotes = createQuoteCache({
    source: createChangeNowClient({
      baseUrl: endpoints.changeNowApiUrl,
      apiKey: config.CHANGENOW_API_KEY ?? localChangeNowApiKey,
      rateLimitPerSecond: config.CHANGENOW_RATE_LIMIT_PER_SECOND,
      db: database,
      requestTimeoutMs: config.CHANGENOW_REQUEST_TIMEOUT,
      retryBudgetMs: 15_000,
      log,
      metrics: createMetricsRegistry('incremental-payout-window-test'),
    }),
    transferFees: createTransferFeeSource({ rpc: createEvmRpc({ url: endpoints.evmRpcUrl, timeoutMs: config.CHAIN_RPC_TIMEOUT }), database, maxPriorityFeePerGasWei: 1n }),
    log,
    now,
  });
  const rules = payoutWindowRulesOf(config);
  return createIncrementalPayoutWindow({
    pool: database,
    maxAgeMs: rules.maxAgeMs,
    now,
    evaluate: createChosenGroupsEvaluator({ pool: database, rules, quotes, now, newBatchId: randomUUID, log }),
  });
}

function keyOf(client: TestClient): GroupKey {
  return { clientId: client.clientId, walletAddress: client.walletAddress, payoutCurrency: 'xmr', payoutNetwork: 'xmr' };
}

/** A finished one-payment conversion that credits the client `usdt` USDT, written by settlement's own writer (which NOTIFYs); returns that payload. */
async function credit(client: TestClient, usdt: string): Promise<string> {
  const conversion = await plantConversionBatch(database, [{ clientId: client.clientId, usdGross: usdt }]);
  const receivedBaseUnits = BigInt(new Decimal(usdt).times(1_000_000).toFixed(0));
  const now = new Date();
  await database.transaction(async (transaction) => {
    const batch = await lockConversionBatch(transaction, conversion.batchId);
    if (batch === null) throw new Error('no conversion batch');
    const outcome = { batchId: batch.batchId, exchangeId: `ex-${randomUUID()}`, exchangeStatus: 'finished', ethSent: null, payinHash: '0xpayin', payoutHash: '0xconv' };
    await distributeConversion(transaction, batch, outcome, receivedBaseUnits, now);
  });
  return encodeCreditsIssued(conversion.batchId);
}

const payoutRow = z.object({ batches: z.number().int(), free: z.number().int() });

/** The client's payout batches, and its credits still free. */
async function payoutsOf(client: TestClient): Promise<{ batches: number; free: number }> {
  return database.one(sql.type(payoutRow)`
    SELECT (SELECT count(*)::int FROM payout_batches WHERE client_id = ${client.clientId}) AS batches,
           (SELECT count(*)::int FROM usdt_credits WHERE client_id = ${client.clientId} AND payout_batch_id IS NULL AND paid_out_at IS NULL) AS free`);
}

it('finds credits whose notification was lost while the listener was away, by the rebuild on reconnect', async () => {
  const window = createWindow();
  expect((await window.check()).rebuilt).toBe(true);
  const client = await registerClient(database, { thresholdUsd: '100', walletAddress: xmrWalletA });
  await credit(client, '150'); // notified while nobody listened: never handed to the window

  const blind = await window.check();
  expect(blind.rebuilt).toBe(false);
  expect(window.group(keyOf(client))).toBeUndefined();
  expect(await payoutsOf(client)).toEqual({ batches: 0, free: 1 });

  window.connected();
  const after = await window.check();
  expect(after.rebuilt).toBe(true);
  expect(after.created.filter((batch) => batch.key.clientId === client.clientId)).toHaveLength(1);
  expect(await payoutsOf(client)).toEqual({ batches: 1, free: 0 });
  expect(window.group(keyOf(client))).toBeUndefined();
});

it('costs one decision that forms nothing when another instance paid the group first', async () => {
  const first = createWindow();
  const second = createWindow();
  await first.check();
  await second.check();
  const client = await registerClient(database, { thresholdUsd: '100', walletAddress: xmrWalletA });
  const below = await credit(client, '60');
  first.notified(below);
  second.notified(below);
  expect((await first.check()).kind).toBe('skipped');
  expect((await second.check()).kind).toBe('skipped');

  const crossing = await credit(client, '60');
  first.notified(crossing);
  second.notified(crossing);
  const paid = await first.check();
  expect(paid.created.filter((batch) => batch.key.clientId === client.clientId)).toHaveLength(1);

  // The second instance's state says 120 USDT are free: it decides the group again, under the
  // lock, finds no free credit and forms nothing; its state drops the group.
  const wasted = await second.check();
  expect(wasted.kind).toBe('evaluated');
  expect(wasted.created.filter((batch) => batch.key.clientId === client.clientId)).toEqual([]);
  expect(second.group(keyOf(client))).toBeUndefined();
  expect(await payoutsOf(client)).toEqual({ batches: 1, free: 0 });
});

it('decides a group on the next check once its client lowered the threshold below what is unpaid', async () => {
  const window = createWindow();
  await window.check();
  const client = await registerClient(database, { thresholdUsd: '1000', walletAddress: xmrWalletA });
  window.notified(await credit(client, '200'));
  expect((await window.check()).created.filter((batch) => batch.key.clientId === client.clientId)).toEqual([]);
  expect(window.group(keyOf(client))?.thresholdUsd?.toFixed()).toBe('1000');

  // As the admin API stores a configuration: the row, and the notification in the same transaction.
  await database.transaction(async (transaction) => {
    await transaction.query(sql.unsafe`UPDATE clients SET threshold_usd = 100, revision = revision + 1, updated_at = now() WHERE client_id = ${client.clientId}`);
    await transaction.query(sql.unsafe`SELECT pg_notify('settlement_window', ${encodeClientChanged(client.clientId)})`);
  });
  window.notified(encodeClientChanged(client.clientId));
  const decided = await window.check();
  expect(decided.kind).toBe('evaluated');
  expect(decided.created.filter((batch) => batch.key.clientId === client.clientId)).toHaveLength(1);
  expect(await payoutsOf(client)).toEqual({ batches: 1, free: 0 });
});

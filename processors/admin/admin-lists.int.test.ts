// Proves the admin's list endpoints, statements and OpenAPI document through HTTP against the real
// stack, every answer checked against the served document (test/support/openapi-contract.ts):
// lists page by cursor without repeating or skipping a row while rows are inserted between pages;
// bad queries are 400 naming the field; a statement built from rows written by settlement's own
// store functions (conversion shared out, payout formed and finished) reconciles: its rows' USDT
// credits sum to what the payout sent, in JSON and in RFC 4180 CSV.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { Decimal } from '../../core/money.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { openContractClient, type CheckedResponse, type ContractClient } from '../../test/support/openapi-contract.ts';
import { testStackEnvironment } from '../../test/support/test-stack-environment.ts';
import { plantConversionBatch, plantInstantPayment, registerClient, type TestClient } from '../../test/support/settlement-fixtures.ts';
import { distributeConversion, lockConversionBatch } from '../settlement/conversion-store.ts';
import { lockPayoutBatch, recordPayoutFinished } from '../settlement/payout-store.ts';
import { insertPayoutBatch, sumUsdt } from '../settlement/payout-window-store.ts';
import type { ClientListItem, PayoutBatchListItem, StatementBody } from './api-schemas.ts';
import { startAdmin, type RunningAdmin } from './start-admin.ts';

const endpoints = inject('endpoints');
const adminToken = 'test-admin-token-lists-0123456789';
const config = loadConfig({ ...testStackEnvironment(process.env), ADMIN_TOKEN: adminToken });
const silent = createLogger({ name: 'admin-lists-test', level: 'silent' });

let admin: RunningAdmin;
let database: DatabasePool;
let api: ContractClient;
const startedAt = new Date(Date.now() - 1_000);

beforeAll(async () => {
  admin = await startAdmin({ config, endpoints, port: 0, log: silent, cooldownSweepIntervalMs: 0, livenessCheckIntervalMs: 0 });
  database = await openTestDatabase();
  api = await openContractClient(admin.url);
});

afterAll(async () => {
  await admin?.stop();
  await database?.end();
});

const get = (path: string, headers: Record<string, string> = {}): Promise<CheckedResponse> =>
  api.fetch(path, { headers: { authorization: `Bearer ${adminToken}`, ...headers } });

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** A conversion finished and shared out, and the payout of client's credits finished, as settlement records them. */
async function settle(client: TestClient, other: TestClient): Promise<{ payoutBatchId: string; conversionBatchId: string; paymentIds: string[]; payoutHash: string }> {
  const conversion = await plantConversionBatch(database, [
    { clientId: client.clientId, usdGross: '10' },
    { clientId: client.clientId, usdGross: '20.5' },
    { clientId: other.clientId, usdGross: '30' },
  ]);
  const now = new Date();
  const credits = await database.transaction(async (transaction) => {
    const batch = await lockConversionBatch(transaction, conversion.batchId);
    if (batch === null) throw new Error('no conversion batch');
    const outcome = { batchId: batch.batchId, exchangeId: 'ex-1', exchangeStatus: 'finished', ethSent: null, payinHash: '0xpayin', payoutHash: '0xconv' };
    return (await distributeConversion(transaction, batch, outcome, 100_123_457n, now)).credits;
  });
  const mine = credits.filter((credit) => credit.clientId === client.clientId);
  const payoutBatchId = `payout-${randomUUID()}`;
  const payoutHash = `0x${randomUUID().replaceAll('-', '')}`;
  await database.transaction(async (transaction) => {
    await insertPayoutBatch(
      transaction,
      {
        batchId: payoutBatchId,
        key: { clientId: client.clientId, walletAddress: client.walletAddress, payoutCurrency: 'xmr', payoutNetwork: 'xmr' },
        reason: 'threshold',
        sourceCurrency: 'usdt',
        sourceAmount: sumUsdt(mine),
        usdValue: new Decimal('29.585'),
        credits: mine.map((credit) => ({ creditId: credit.creditId, usdtAmount: credit.usdtAmount })),
        requestedBy: null,
        retryOf: null,
        correlationId: randomUUID(),
      },
      now,
    );
    const locked = await lockPayoutBatch(transaction, payoutBatchId);
    if (locked === null) throw new Error('no payout batch');
    await recordPayoutFinished(transaction, locked, { exchangeId: 'ex-2', exchangeStatus: 'finished', payinHash: '0xin', payoutHash, payoutAmount: new Decimal('0.123456789012') }, new Date());
  });
  return { payoutBatchId, conversionBatchId: conversion.batchId, paymentIds: mine.map((credit) => credit.paymentId), payoutHash };
}

describe('statements', () => {
  let client: TestClient;
  let settled: Awaited<ReturnType<typeof settle>>;

  beforeAll(async () => {
    client = await registerClient(database, { thresholdUsd: '50' });
    settled = await settle(client, await registerClient(database));
  });

  it('for a payout: every payment with its fee, share, credit and the payout transaction; the credits sum to what the payout sent', async () => {
    const answer = await get(`/api/clients/${client.clientId}/statement?payout_batch_id=${settled.payoutBatchId}`);
    expect(answer.status).toBe(200);
    const statement = answer.body as StatementBody;
    expect(statement.rows.map((row) => row.payment_id).sort()).toEqual([...settled.paymentIds].sort());
    for (const row of statement.rows) {
      expect(row).toMatchObject({ conversion_batch_id: settled.conversionBatchId, payout_batch_id: settled.payoutBatchId, payout_tx_hash: settled.payoutHash, payout_state: 'finished', payout_currency: 'xmr', payout_amount: '0.123456789012' });
      expect(new Decimal(row.usd_gross).minus(row.platform_fee_usd).equals(row.usd_net)).toBe(true);
    }
    const [payout] = statement.payouts;
    expect(statement.payouts).toHaveLength(1);
    expect(payout?.usdt_credited).toBe(payout?.source_amount);
    expect(statement.totals.usdt_credited).toBe(payout?.source_amount);
    // 10 and 20.5 gross at 3% fee of 60.5: shares 9.7/58.685 and 19.885/58.685 of the conversion.
    const shares = statement.rows.map((row) => new Decimal(row.conversion_share ?? '0'));
    expect(shares.reduce((total, share) => total.plus(share), new Decimal(0)).toDecimalPlaces(12).toFixed()).toBe(new Decimal('29.585').div('58.685').toDecimalPlaces(12).toFixed());
  });

  it('as CSV: a header and one RFC 4180 line per payment, with the same values', async () => {
    const json = (await get(`/api/clients/${client.clientId}/statement?payout_batch_id=${settled.payoutBatchId}`)).body as StatementBody;
    const byFormat = await get(`/api/clients/${client.clientId}/statement?payout_batch_id=${settled.payoutBatchId}&format=csv`);
    const byAccept = await get(`/api/clients/${client.clientId}/statement?payout_batch_id=${settled.payoutBatchId}`, { accept: 'text/csv' });
    expect(byFormat.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(byFormat.headers.get('content-disposition')).toMatch(/^attachment; filename="statement-/);
    expect(byAccept.text).toBe(byFormat.text);
    const lines = byFormat.text.split('\r\n');
    expect(lines[0]?.split(',')).toContain('usdt_credited');
    expect(lines).toHaveLength(json.rows.length + 2);
    expect(lines.at(-1)).toBe('');
    const header = lines[0]?.split(',') ?? [];
    for (const [index, row] of json.rows.entries()) {
      const fields = lines[index + 1]?.split(',') ?? [];
      expect(fields[header.indexOf('usdt_credited')]).toBe(row.usdt_credited);
      expect(fields[header.indexOf('payout_tx_hash')]).toBe(row.payout_tx_hash);
    }
  });

  it('for a date range: the same payments with their payout', async () => {
    const to = new Date(Date.now() + 60_000).toISOString();
    const answer = await get(`/api/clients/${client.clientId}/statement?from=${startedAt.toISOString()}&to=${to}`);
    expect(answer.status).toBe(200);
    const statement = answer.body as StatementBody;
    expect(statement.rows.map((row) => row.payment_id).sort()).toEqual([...settled.paymentIds].sort());
    expect(statement.rows.every((row) => row.payout_tx_hash === settled.payoutHash)).toBe(true);
  });

  it('refuses what it cannot answer, naming the field', async () => {
    const cases: [string, number, string][] = [
      [`/api/clients/${client.clientId}/statement`, 400, 'from'],
      [`/api/clients/${client.clientId}/statement?payout_batch_id=x&from=2026-01-01&to=2026-02-01`, 400, 'payout_batch_id'],
      [`/api/clients/${client.clientId}/statement?from=2026-02-01&to=2026-01-01`, 400, 'to'],
      [`/api/clients/${client.clientId}/statement?from=2026-02-30&to=2026-03-01`, 400, 'from'],
      [`/api/clients/${client.clientId}/statement?payout_batch_id=x&format=pdf`, 400, 'format'],
      [`/api/clients/${client.clientId}/statement?payout_batch_id=no-such-batch`, 404, 'payout_batch_id'],
      [`/api/clients/-99999999999999/statement?payout_batch_id=x`, 404, 'clientId'],
    ];
    for (const [path, status, field] of cases) {
      const answer = await get(path);
      expect({ path, status: answer.status, field: (answer.body as { error: { field: string } }).error.field }).toEqual({ path, status, field });
    }
  });
});

describe('lists', () => {
  it('page payout batches by cursor: every row once, in order, though a newer one arrives between pages', async () => {
    const client = await registerClient(database, { strategy: 'instant' });
    const planted = [];
    for (let index = 0; index < 3; index += 1) planted.push((await plantInstantPayment(database, client, `${10 + index}`)).batchId);
    const first = (await get(`/api/payout-batches?client_id=${client.clientId}&limit=2`)).body as Page<PayoutBatchListItem>;
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).not.toBeNull();
    const newer = (await plantInstantPayment(database, client, '99')).batchId;
    const second = (await get(`/api/payout-batches?client_id=${client.clientId}&limit=2&cursor=${first.next_cursor ?? ''}`)).body as Page<PayoutBatchListItem>;
    expect(second.next_cursor).toBeNull();
    const seen = [...first.items, ...second.items].map((item) => item.batch_id);
    expect([...seen].sort()).toEqual([...planted].sort());
    expect(seen).not.toContain(newer);
    const times = [...first.items, ...second.items].map((item) => item.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    const filtered = (await get(`/api/payout-batches?client_id=${client.clientId}&state=finished`)).body as Page<PayoutBatchListItem>;
    expect(filtered.items).toEqual([]);
  });

  it('lists clients by id prefix and strategy, with unpaid amount, state and last payout', async () => {
    const client = await registerClient(database, { thresholdUsd: '1000' });
    const settled = await settle(await registerClient(database, { thresholdUsd: '50' }), client);
    const answer = (await get(`/api/clients?q=${client.clientId}&strategy=threshold`)).body as Page<ClientListItem>;
    const row = answer.items.find((item) => item.client_id === client.clientId);
    expect(row).toMatchObject({ strategy: 'threshold', threshold_usd: '1000', state: 'below_threshold', last_payout: null });
    expect(new Decimal(row?.unpaid_usdt ?? '0').gt(0)).toBe(true);
    const instant = (await get(`/api/clients?q=${client.clientId}&strategy=instant`)).body as Page<ClientListItem>;
    expect(instant.items.find((item) => item.client_id === client.clientId)).toBeUndefined();
    const paid = (await get(`/api/payout-batches?state=finished&from=${startedAt.toISOString()}`)).body as Page<PayoutBatchListItem>;
    expect(paid.items.map((item) => item.batch_id)).toContain(settled.payoutBatchId);
  });

  it('lists conversion batches, alerts, consumer groups and dead-letter depths in the documented shape', async () => {
    const conversions = await get(`/api/conversion-batches?state=finished&from=${startedAt.toISOString().slice(0, 10)}&limit=200`);
    expect(conversions.status).toBe(200);
    expect((conversions.body as Page<unknown>).items.length).toBeGreaterThan(0);
    expect((await get('/api/alerts?status=all&limit=5')).status).toBe(200);
    expect((await get('/api/alerts')).status).toBe(200);
    expect((await get('/api/consumer-groups?limit=3')).status).toBe(200);
    const deadLetters = await get('/api/dead-letters?limit=200');
    expect(deadLetters.status).toBe(200);
    expect((deadLetters.body as Page<{ topic: string }>).items.map((item) => item.topic)).toContain('swap-events.dlq');
  });

  it('lists a conversion held for recovery (needs_recovery) and filters on it', async () => {
    // Planted and removed again by this test: a held conversion stands for an operator's work in
    // every later file's reconciliation.
    const client = await registerClient(database);
    const held = await plantConversionBatch(database, [{ clientId: client.clientId, usdGross: '12' }]);
    await database.query(sql.unsafe`UPDATE payment_ledger SET state = 'needs_recovery' WHERE conversion_batch_id = ${held.batchId}`);
    await database.query(sql.unsafe`UPDATE conversion_batches SET state = 'needs_recovery' WHERE batch_id = ${held.batchId}`);
    try {
      const all = await get('/api/conversion-batches?limit=200');
      expect(all.status).toBe(200);
      const filtered = await get('/api/conversion-batches?state=needs_recovery&limit=200');
      expect(filtered.status).toBe(200);
      expect((filtered.body as Page<{ batch_id: string; state: string }>).items).toContainEqual(expect.objectContaining({ batch_id: held.batchId, state: 'needs_recovery' }));
    } finally {
      await database.transaction(async (transaction) => {
        await transaction.query(sql.unsafe`DELETE FROM conversion_batch_members WHERE batch_id = ${held.batchId}`);
        await transaction.query(sql.unsafe`DELETE FROM payment_ledger WHERE conversion_batch_id = ${held.batchId}`);
        await transaction.query(sql.unsafe`DELETE FROM conversion_batches WHERE batch_id = ${held.batchId}`);
      });
    }
  });

  it('answers a bad query with 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['/api/clients?limit=0', 'limit'],
      ['/api/clients?limit=201', 'limit'],
      ['/api/clients?cursor=not-a-cursor', 'cursor'],
      ['/api/clients?strategy=sometimes', 'strategy'],
      ['/api/clients?sort=name', 'sort'],
      ['/api/clients?strategy=instant&strategy=threshold', 'strategy'],
      ['/api/payout-batches?state=lost', 'state'],
      ['/api/payout-batches?from=yesterday', 'from'],
      ['/api/payout-batches?client_id=abc', 'client_id'],
      [`/api/payout-batches?cursor=${Buffer.from('["x","y"]').toString('base64url')}`, 'cursor'],
      ['/api/conversion-batches?to=2026-13-01', 'to'],
      ['/api/alerts?status=closed', 'status'],
      ['/api/consumer-groups?limit=x', 'limit'],
      ['/api/dead-letters?cursor=x', 'cursor'],
    ];
    for (const [path, field] of cases) {
      const answer = await get(path);
      expect({ path, status: answer.status, field: (answer.body as { error: { field: string } }).error.field }).toEqual({ path, status: 400, field });
    }
  });

  it('needs the token, except for the OpenAPI document', async () => {
    expect((await api.fetch('/api/clients')).status).toBe(401);
    const document = await api.fetch('/api/openapi.json');
    expect(document.status).toBe(200);
    expect(document.body).toMatchObject({ openapi: '3.1.0' });
  });
});

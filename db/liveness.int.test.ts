// Proves liveness is part of reconciliation, with `cli reconcile` really run as a child process
// against the real stack: a payout group held as quote_unavailable for longer than
// PAYOUT_HOLD_ALERT_AFTER makes it exit 3, print the finding, log it with `alert: true` and put one
// record on `alerts`; a second run emits no second alert for the same standing finding; a safety
// violation planted beside it still exits 1; once the hold is gone the finding clears (one CLEARED
// alert) and the exit code says exactly whether any other finding stands. A signed IPN held in
// quarantine, a payment above the conversion maximum and a chain nonce gap are findings until they clear.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { openTestDatabase } from '../test/support/database.ts';
import { processorEnvironment } from '../test/support/processor-process.ts';
import { readTopic } from '../test/support/topic-records.ts';
import { registerClient } from '../test/support/settlement-fixtures.ts';
import type { Alert } from '../schemas/generated/records.ts';
import { topicNames } from '../topics/topics.ts';
import { findingIdOf } from './liveness.ts';

const endpoints = inject('endpoints');
let database: DatabasePool;

beforeAll(async () => {
  database = await openTestDatabase();
});

afterAll(async () => {
  await database.end();
});

async function reconcileCommand(): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'reconcile'], {
    env: processorEnvironment({ PAYOUT_HOLD_ALERT_AFTER: '1h', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

async function alertsFor(findingId: string): Promise<Alert[]> {
  return (await readTopic(endpoints, topicNames.alerts)).filter((record) => record.key === findingId).map((record) => record.value as Alert);
}

function alertLogLines(output: string, findingId: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['alert'] === true && entry['findingId'] === findingId);
}

it('exits 3 on a hold older than the alert age, alerts it once, exits 1 when a safety violation is there too, and clears it', async () => {
  const client = await registerClient(database, { thresholdUsd: '100', payoutCurrency: 'xmr', payoutNetwork: 'xmr' });
  const subject = `${client.clientId}/xmr/xmr/${client.walletAddress}`;
  const findingId = findingIdOf('payout_quote_unavailable', subject);
  // As settlement records it: evaluated (and held) two hours ago, longer than PAYOUT_HOLD_ALERT_AFTER.
  await database.query(sql.unsafe`
    INSERT INTO payout_group_holds (client_id, wallet_address, payout_currency, payout_network, state, reason, unpaid_usdt, evaluated_at)
    VALUES (${client.clientId}, ${client.walletAddress}, 'xmr', 'xmr', 'quote_unavailable', 'no exchange range for xmr/xmr: pair_is_inactive', 120, now() - interval '2 hours')`);
  try {
    const held = await reconcileCommand();
    expect(held.output).toContain(`FINDING payout_quote_unavailable ${subject} (warning, for 2h)`);
    expect(held.output).toMatch(/reconciliation: \d+ invariants hold/);
    expect(held.code).toBe(3);
    expect(alertLogLines(held.output, findingId)).toEqual([expect.objectContaining({ alert: true, kind: 'payout_quote_unavailable', status: 'RAISED', severity: 'warning' })]);
    expect(await alertsFor(findingId)).toEqual([
      expect.objectContaining({ alert_id: `${findingId}:1`, finding_id: findingId, kind: 'payout_quote_unavailable', subject, severity: 'WARNING', status: 'RAISED' }),
    ]);

    // The same standing finding within ALERT_REPEAT_INTERVAL: reported again, not alerted again.
    const again = await reconcileCommand();
    expect(again.code).toBe(3);
    expect(again.output).toContain(`FINDING payout_quote_unavailable ${subject}`);
    expect(alertLogLines(again.output, findingId)).toEqual([]);
    expect(await alertsFor(findingId)).toHaveLength(1);

    // Safety wins over liveness.
    await database.query(sql.unsafe`
      INSERT INTO conversion_batches (batch_id, state, trigger, member_count, total_usd, total_eth, threshold_usd, created_at)
      VALUES ('planted-for-liveness-cli', 'requested', 'threshold', 1, 20, 0.01, 20, now())`);
    try {
      const both = await reconcileCommand();
      expect(both.output).toContain('VIOLATION conversion batch totals equal the sum of their members: planted-for-liveness-cli');
      expect(both.output).toContain(`FINDING payout_quote_unavailable ${subject}`);
      expect(both.code).toBe(1);
    } finally {
      await database.query(sql.unsafe`DELETE FROM conversion_batches WHERE batch_id = 'planted-for-liveness-cli'`);
    }
  } finally {
    await database.query(sql.unsafe`DELETE FROM payout_group_holds WHERE client_id = ${client.clientId}`);
  }

  const cleared = await reconcileCommand();
  expect(cleared.output).not.toContain(`FINDING payout_quote_unavailable ${subject}`);
  expect(alertLogLines(cleared.output, findingId)).toEqual([expect.objectContaining({ status: 'CLEARED' })]);
  expect((await alertsFor(findingId)).map((alert) => [alert.alert_id, alert.status])).toEqual([
    [`${findingId}:1`, 'RAISED'],
    [`${findingId}:2`, 'CLEARED'],
  ]);
  // Other test files may leave standing findings (dead letters, exhausted retries): the exit code
  // must say exactly whether any is printed.
  expect(cleared.output).toMatch(/reconciliation: \d+ invariants hold/);
  expect(cleared.code).toBe(cleared.output.includes('\nFINDING ') ? 3 : 0);
}, 180_000);

it('finds a signed IPN held in quarantine, a payment above the conversion maximum and a chain nonce gap, and lets them go once resolved', async () => {
  const sender = '0x00000000000000000000000000000000000b0b00';
  await database.query(sql.unsafe`
    INSERT INTO chain_nonce_status (sender_address, status, ledger_next_nonce, ledger_open_nonce, node_mined_nonce, node_pending_nonce, gap, reason, since, checked_at)
    VALUES (${sender}, 'node_behind', 950, 949, 0, 0, 950, 'planted: the node has none of the ledger nonces', now(), now())`);
  const quarantineId = await database.oneFirst(sql.type(z.object({ id: z.string() }))`
    INSERT INTO ipn_quarantine (body_sha256, body, payment_id, reason_field, reason_rule, problems, correlation_id, first_received_at, last_received_at)
    VALUES (encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), '{"payment_id":5077}', '5077', 'paid_at', 'a date PostgreSQL can store', '[]'::jsonb,
            'liveness-test', now() - interval '5 minutes', now())
    RETURNING quarantine_id::text AS id`);
  await database.query(sql.unsafe`
    INSERT INTO conversion_window_holds (state, reason, payment_count, held_usd, held_eth, oldest_received_at, since, updated_at)
    VALUES ('above_exchange_maximum', 'planted by the liveness test', 1, 400000, 120, now(), now(), now())
    ON CONFLICT (state) DO NOTHING`);
  try {
    const found = await reconcileCommand();
    expect(found.code).toBe(3);
    expect(found.output).toContain(`FINDING ipn_quarantined ${quarantineId}`);
    expect(found.output).toContain('FINDING conversion_above_exchange_maximum above_exchange_maximum');
    expect(found.output).toContain(`FINDING chain_nonce_gap ${sender}`);
    expect(alertLogLines(found.output, findingIdOf('ipn_quarantined', quarantineId))).toEqual([expect.objectContaining({ status: 'RAISED', severity: 'critical' })]);
  } finally {
    await database.query(sql.unsafe`UPDATE ipn_quarantine SET state = 'dismissed', resolved_by = 'liveness-test', resolved_at = now(), resolution_note = 'planted' WHERE quarantine_id = ${quarantineId}::bigint`);
    await database.query(sql.unsafe`DELETE FROM conversion_window_holds WHERE reason = 'planted by the liveness test'`);
    await database.query(sql.unsafe`DELETE FROM chain_nonce_status WHERE sender_address = ${sender}`);
  }
  const cleared = await reconcileCommand();
  expect(cleared.output).not.toContain(`FINDING ipn_quarantined ${quarantineId}`);
  expect(cleared.output).not.toContain('FINDING conversion_above_exchange_maximum');
  expect(cleared.output).not.toContain(`FINDING chain_nonce_gap ${sender}`);
  expect(alertLogLines(cleared.output, findingIdOf('ipn_quarantined', quarantineId))).toEqual([expect.objectContaining({ status: 'CLEARED' })]);
}, 180_000);

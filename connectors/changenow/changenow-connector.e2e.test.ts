// The ChangeNow and chain connectors as their own processes, against the ChangeNow simulator and
// the local EVM: commands go in on their topics, exchanges happen in the simulator, ETH and USDT
// really move on chain, and swap events come out. Every case checks the effects that matter for
// money: exactly one exchange per command (the simulator's own records), exactly one pay-in
// transfer (the pay-in address holds the amount once, and one transaction hash was confirmed),
// and the event trail.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DatabasePool } from 'slonik';
import { sql } from 'slonik';
import { z } from 'zod';
import { Decimal, toBaseUnits } from '../../core/money.ts';
import type { ChainEvent, ConversionRequested, PayoutRequested, SwapEvent } from '../../schemas/generated/records.ts';
import { localExchangeWallet, localHostWallet } from '../../stack/evm/local-wallets.ts';
import { topicNames } from '../../topics/topics.ts';
import { openTestDatabase } from '../../test/support/database.ts';
import { eventually } from '../../test/support/eventually.ts';
import { ethBalanceOf, freshAddress, sendUsdt, usdtBalanceOf, whileLocalEvmPaused } from '../../test/support/local-evm.ts';
import { startProcessorProcess, type ProcessorProcess } from '../../test/support/processor-process.ts';
import { openTopicProducer, type TopicProducer } from '../../test/support/topic-producer.ts';
import { readTopic } from '../../test/support/topic-records.ts';
import { skipGroupToLatest } from '../../test/support/consumer-groups.ts';
import { injectFault, planOutcome, resetSimulator, setPairRange, simulatorExchanges } from '../../test/support/changenow-simulator.ts';

const endpoints = inject('endpoints');

// Fast polling and short timeouts, so faults resolve within a test; the mechanisms are the same.
const connectorEnvironment = {
  CHANGENOW_POLL_INTERVAL: '200ms',
  CHANGENOW_POLL_INTERVAL_MAX: '1s',
  CHANGENOW_REQUEST_TIMEOUT: '1500ms',
  CHANGENOW_RETRY_BUDGET: '20s',
  CHANGENOW_CREATE_DEADLINE: '15s',
  CHAIN_CONFIRMATIONS: '2',
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_DROPPED_AFTER: '5s',
  // A SIGKILLed member is waited for up to the session timeout before its partitions move.
  KAFKA_SESSION_TIMEOUT: '6s',
  KAFKA_REBALANCE_TIMEOUT: '10s',
  // No test here is about the rate limit (rate-budget.int.test.ts and the client's tests are): at
  // the production 10/s, eight commands polling every 200 ms on two instances queue for the budget.
  CHANGENOW_RATE_LIMIT_PER_SECOND: '100',
};

let producer: TopicProducer;
let database: DatabasePool;
let changenow: ProcessorProcess | undefined;
let chain: ProcessorProcess | undefined;

async function startConnector(name: 'changenow' | 'chain', failpoint?: string): Promise<void> {
  const environment = failpoint === undefined ? connectorEnvironment : { ...connectorEnvironment, PIPELINE_FAILPOINTS: failpoint };
  if (name === 'chain') chain = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment });
  else changenow = await startProcessorProcess('changenow', 'CHANGENOW_CONNECTOR_PORT', { environment });
}

async function startConnectors(): Promise<void> {
  await Promise.all([startConnector('chain'), startConnector('changenow')]);
}

async function stopConnectors(): Promise<void> {
  await Promise.all([changenow?.terminate(), chain?.terminate()]);
  changenow = undefined;
  chain = undefined;
}

function conversionCommand(totalEth: string): ConversionRequested {
  const batchId = `test-conversion-${randomUUID()}`;
  return {
    command_id: batchId,
    batch_id: batchId,
    member_payment_ids: [`payment-${randomUUID()}`],
    total_usd: new Decimal(totalEth).times(3_000),
    total_eth: new Decimal(totalEth),
    threshold_usd: new Decimal('20'),
    trigger: 'THRESHOLD',
    requested_at: new Date(),
  };
}

function payoutCommand(overrides: Partial<PayoutRequested>): PayoutRequested {
  const batchId = `test-payout-${randomUUID()}`;
  return {
    command_id: batchId,
    payout_batch_id: batchId,
    client_id: 'connector-test-client',
    reason: 'THRESHOLD',
    from_currency: 'usdt',
    from_network: 'eth',
    amount: new Decimal('25'),
    usd_value: new Decimal('25'),
    to_currency: 'eth',
    to_network: 'eth',
    payout_address: freshAddress(),
    requested_at: new Date(),
    ...overrides,
  };
}

async function swapEventsOf(commandId: string): Promise<SwapEvent[]> {
  return (await readTopic(endpoints, topicNames.swapEvents)).map((record) => record.value as SwapEvent).filter((event) => event.command_id === commandId);
}

async function chainEventsOf(commandId: string): Promise<ChainEvent[]> {
  return (await readTopic(endpoints, topicNames.chainEvents)).map((record) => record.value as ChainEvent).filter((event) => event.command_id === commandId);
}

/** Waits for the command's terminal swap event and returns the whole trail. */
async function endedSwap(commandId: string, timeoutMs = 60_000): Promise<{ ended: SwapEvent; events: SwapEvent[] }> {
  return eventually(
    async () => {
      const events = await swapEventsOf(commandId);
      const ended = events.find((event) => event.type === 'FINISHED' || event.type === 'FAILED');
      if (ended === undefined) throw new Error(`no terminal swap event for ${commandId} yet: ${events.map((event) => event.type).join(', ')}`);
      return { ended, events };
    },
    { timeoutMs, intervalMs: 500 },
  );
}

const swapRow = z.object({ state: z.string(), exchange_id: z.string().nullable(), failure_reason: z.string().nullable(), create_attempts: z.number() });

async function swapRowOf(commandId: string): Promise<z.infer<typeof swapRow>> {
  return database.one(sql.type(swapRow)`SELECT state, exchange_id, failure_reason, create_attempts FROM swap_commands WHERE command_id = ${commandId}`);
}

/** The money checks every finished conversion must pass. */
async function expectOneExchangeAndOnePayIn(command: ConversionRequested, events: SwapEvent[]): Promise<void> {
  const exchanges = await simulatorExchanges(command.command_id);
  expect(exchanges).toHaveLength(1);
  const created = events.filter((event) => event.type === 'CREATED');
  expect(new Set(created.map((event) => event.exchange_id))).toEqual(new Set([exchanges[0]?.id]));
  const payInAddress = created[0]?.pay_in_address;
  if (payInAddress === undefined || payInAddress === null) throw new Error('CREATED carries the pay-in address');
  // One transfer: the pay-in address received the batch's ETH exactly once.
  expect(await ethBalanceOf(payInAddress)).toBe(toBaseUnits(command.total_eth, 18));
  // The exchange may finish before a restarted chain connector reports the confirmation (it follows
  // the chain, ChangeNow follows the deposit): wait for the report, then there must be one hash.
  await eventually(
    async () => {
      const confirmed = (await chainEventsOf(command.command_id)).filter((event) => event.type === 'CONFIRMED');
      expect(new Set(confirmed.map((event) => event.tx_hash)).size).toBe(1);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

beforeAll(async () => {
  producer = await openTopicProducer(endpoints);
  database = await openTestDatabase();
  // The host wallet pays payouts in USDT; on a fresh chain it has none until conversions finish.
  await sendUsdt(localExchangeWallet, localHostWallet.address, 10_000_000_000n);
  await skipGroupToLatest(endpoints, 'changenow', [topicNames.conversionRequests, topicNames.payoutRequests, topicNames.chainEvents]);
  await skipGroupToLatest(endpoints, 'chain', [topicNames.transferRequests]);
  await startConnectors();
}, 180_000);

afterAll(async () => {
  await stopConnectors();
  await producer?.close();
  await database?.end();
  await resetSimulator();
});

afterEach(async () => {
  await resetSimulator();
});

describe('commands through the connectors', () => {
  it('converts a batch ETH → USDT: one exchange, one pay-in, the USDT received lands in the host wallet', async () => {
    const command = conversionCommand('0.0123');
    const usdtBefore = await usdtBalanceOf(localHostWallet.address);
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);

    const { ended, events } = await endedSwap(command.command_id);
    expect(ended).toMatchObject({ type: 'FINISHED', command_kind: 'CONVERSION', status: 'finished' });
    expect(ended.amount_to?.isPositive()).toBe(true);
    expect(ended.payout_hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(ended.payin_hash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(events.map((event) => event.type)).toContain('STATUS_CHANGED');
    expect(await usdtBalanceOf(localHostWallet.address)).toBe(usdtBefore + toBaseUnits(ended.amount_to ?? new Decimal(0), 6));
    await expectOneExchangeAndOnePayIn(command, events);
    expect(await swapRowOf(command.command_id)).toMatchObject({ state: 'finished', create_attempts: 1 });
  }, 90_000);

  it('pays a client out of USDT into ETH on their wallet', async () => {
    const command = payoutCommand({ amount: new Decimal('25.5') });
    await producer.send(topicNames.payoutRequests, 'payout-requested', command.command_id, command);

    const { ended } = await endedSwap(command.command_id);
    expect(ended).toMatchObject({ type: 'FINISHED', command_kind: 'PAYOUT' });
    expect(await ethBalanceOf(command.payout_address)).toBe(toBaseUnits(ended.amount_to ?? new Decimal(0), 18));
    expect(await simulatorExchanges(command.command_id)).toHaveLength(1);
  }, 90_000);

  it('sends ETH straight to an instant client paid in ETH, without an exchange', async () => {
    const command = payoutCommand({ reason: 'INSTANT', from_currency: 'eth', amount: new Decimal('0.0421'), to_currency: 'eth' });
    await producer.send(topicNames.payoutRequests, 'payout-requested', command.command_id, command);

    const { ended } = await endedSwap(command.command_id);
    expect(ended).toMatchObject({ type: 'FINISHED', exchange_id: null });
    expect(ended.amount_to?.toFixed()).toBe('0.0421');
    expect(await ethBalanceOf(command.payout_address)).toBe(42_100_000_000_000_000n);
    expect(await simulatorExchanges(command.command_id)).toHaveLength(0);
  }, 90_000);

  it('ignores a replayed command: same command id, nothing created or sent again', async () => {
    const command = conversionCommand('0.0042');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { events } = await endedSwap(command.command_id);

    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    // A later command proves the replay was consumed before we look.
    const marker = conversionCommand('0.0041');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', marker.command_id, marker);
    await endedSwap(marker.command_id);

    await expectOneExchangeAndOnePayIn(command, events);
    expect((await swapEventsOf(command.command_id)).filter((event) => event.type === 'FINISHED')).toHaveLength(1);
  }, 120_000);
});

describe('several commands at once, two connector instances', () => {
  it('steps commands concurrently, each under its own lock: every command has exactly one exchange and one create call', async () => {
    const second = await startProcessorProcess('changenow', 'CHANGENOW_CONNECTOR_PORT', { environment: connectorEnvironment });
    try {
      // Each create call answers a second late, so commands stepped at the same time are in
      // `creating` together; stepped one at a time, no two create calls could overlap.
      await injectFault({ delayMs: 1_000, count: 8, path: '/v2/exchange' });
      const commands = Array.from({ length: 8 }, (_, index) => conversionCommand(`0.00${31 + index}`));
      await Promise.all(commands.map((command) => producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command)));

      const swaps = await Promise.all(commands.map((command) => endedSwap(command.command_id, 120_000)));
      const creating: { start: number; end: number }[] = [];
      for (const [index, command] of commands.entries()) {
        const { ended, events } = swaps[index]!;
        expect(ended.type).toBe('FINISHED');
        await expectOneExchangeAndOnePayIn(command, events);
        const row = await database.one(
          sql.type(z.object({ create_attempts: z.number(), create_started_at: z.date() }))`SELECT create_attempts, create_started_at FROM swap_commands WHERE command_id = ${command.command_id}`,
        );
        expect(row.create_attempts).toBe(1);
        const created = events.find((event) => event.type === 'CREATED');
        if (created === undefined) throw new Error('a finished exchange has its CREATED event');
        creating.push({ start: row.create_started_at.getTime(), end: created.occurred_at.getTime() });
      }
      // From `creating` committed to the exchange stored: some two commands were there at once.
      const overlapping = creating.some((one, index) => creating.some((other, otherIndex) => otherIndex !== index && one.start < other.end && other.start < one.end));
      expect(overlapping).toBe(true);
    } finally {
      await second.terminate();
    }
  }, 180_000);
});

describe('a connector SIGKILLed between two steps finishes the command after restart, once', () => {
  const crashPoints = [
    { connector: 'changenow', failpoint: 'changenow.after-create', step: 'exchange created, id not stored' },
    { connector: 'changenow', failpoint: 'changenow.after-store', step: 'id stored, pay-in not yet requested from the chain' },
    { connector: 'chain', failpoint: 'chain.after-sign', step: 'transfer signed and stored, not broadcast' },
    { connector: 'chain', failpoint: 'chain.after-broadcast', step: 'transfer broadcast, not confirmed' },
  ] as const;

  for (const crash of crashPoints) {
    it(`${crash.failpoint}: ${crash.step}`, async () => {
      // Only the process under test restarts (with its failpoint armed); the other keeps running,
      // as it would in production when one process dies.
      await (crash.connector === 'changenow' ? changenow : chain)?.terminate();
      await startConnector(crash.connector, crash.failpoint);
      const victim = crash.connector === 'changenow' ? changenow : chain;
      const command = conversionCommand('0.0077');
      await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);

      await eventually(() => expect(victim?.child.signalCode).toBe('SIGKILL'), { timeoutMs: 60_000, intervalMs: 200 });
      await startConnector(crash.connector);

      const { ended, events } = await endedSwap(command.command_id, 90_000);
      expect(ended.type).toBe('FINISHED');
      await expectOneExchangeAndOnePayIn(command, events);
    }, 180_000);
  }
});

describe('faults end in the right state, with the reason, and no duplicate effect', () => {
  it('429 and 5xx bursts on every endpoint are retried through', async () => {
    await injectFault({ status: 429, count: 3 });
    await injectFault({ status: 503, count: 3 });
    const command = conversionCommand('0.0055');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended, events } = await endedSwap(command.command_id);
    expect(ended.type).toBe('FINISHED');
    await expectOneExchangeAndOnePayIn(command, events);
  }, 90_000);

  it('a slow API beyond the request timeout is waited out', async () => {
    await injectFault({ delayMs: 2_500, count: 3 });
    const command = conversionCommand('0.0056');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended, events } = await endedSwap(command.command_id);
    expect(ended.type).toBe('FINISHED');
    await expectOneExchangeAndOnePayIn(command, events);
  }, 90_000);

  it('a create call that times out after ChangeNow created the exchange is resolved by lookup, not a second create', async () => {
    await injectFault({ kind: 'timeout-after-create', count: 1 });
    const command = conversionCommand('0.0057');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended, events } = await endedSwap(command.command_id);
    expect(ended.type).toBe('FINISHED');
    await expectOneExchangeAndOnePayIn(command, events);
  }, 90_000);

  it('ChangeNow down past the create deadline: the command ends FAILED with the last error, nothing created or sent', async () => {
    await injectFault({ status: 503, count: 10_000 });
    const command = conversionCommand('0.0062');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended } = await endedSwap(command.command_id, 90_000);
    await resetSimulator();
    expect(ended.type).toBe('FAILED');
    expect(ended.failure_reason).toMatch(/no exchange could be created within \d+ s; last error: .*503/);
    expect(await simulatorExchanges(command.command_id)).toHaveLength(0);
    expect(await chainEventsOf(command.command_id)).toHaveLength(0);
  }, 120_000);

  it('a failed exchange ends FAILED with the reason', async () => {
    const command = conversionCommand('0.0058');
    await planOutcome({ match: { userId: command.command_id }, outcome: 'failed' });
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended } = await endedSwap(command.command_id);
    expect(ended).toMatchObject({ type: 'FAILED', status: 'failed' });
    expect(ended.failure_reason).toMatch(/failed/);
    expect(await swapRowOf(command.command_id)).toMatchObject({ state: 'failed' });
    expect(await simulatorExchanges(command.command_id)).toHaveLength(1);
  }, 90_000);

  it('a refunded exchange ends FAILED, and the refund is back in the host wallet', async () => {
    const command = conversionCommand('0.0059');
    await planOutcome({ match: { userId: command.command_id }, outcome: 'refunded' });
    const before = await ethBalanceOf(localHostWallet.address);
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended } = await endedSwap(command.command_id);
    expect(ended).toMatchObject({ type: 'FAILED', status: 'refunded' });
    expect(ended.failure_reason).toMatch(/refund/);
    // Back but for the pay-in's gas.
    const spent = before - (await ethBalanceOf(localHostWallet.address));
    expect(spent > 0n && spent < 10n ** 15n).toBe(true);
  }, 90_000);

  it('an amount outside the pair range is refused before any exchange is created', async () => {
    await setPairRange({ fromCurrency: 'eth', fromNetwork: 'eth', toCurrency: 'usdt', toNetwork: 'eth', minAmount: new Decimal('1'), maxAmount: new Decimal('10') });
    const command = conversionCommand('0.5');
    await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
    const { ended } = await endedSwap(command.command_id);
    expect(ended.type).toBe('FAILED');
    expect(ended.failure_reason).toMatch(/minimum/);
    expect(await simulatorExchanges(command.command_id)).toHaveLength(0);
    expect(await chainEventsOf(command.command_id)).toHaveLength(0);
  }, 90_000);

  it('a pay-in the chain refuses (would revert) fails the swap with the chain reason', async () => {
    // More USDT than the host wallet holds: the chain connector refuses before sending.
    const command = payoutCommand({ amount: new Decimal('900000') });
    await setPairRange({ fromCurrency: 'usdt', fromNetwork: 'eth', toCurrency: 'eth', toNetwork: 'eth', minAmount: new Decimal('1'), maxAmount: null });
    await producer.send(topicNames.payoutRequests, 'payout-requested', command.command_id, command);
    const { ended } = await endedSwap(command.command_id);
    expect(ended.type).toBe('FAILED');
    expect(ended.failure_reason).toMatch(/pay-in transfer failed/);
    expect((await chainEventsOf(command.command_id)).map((event) => event.type)).toEqual(['FAILED']);
  }, 90_000);

  it('the RPC node down for a while: the swap completes once after it comes back', async () => {
    const command = conversionCommand('0.0061');
    await whileLocalEvmPaused(async () => {
      await producer.send(topicNames.conversionRequests, 'conversion-requested', command.command_id, command);
      await new Promise((resolve) => setTimeout(resolve, 8_000));
    });
    const { ended, events } = await endedSwap(command.command_id, 90_000);
    expect(ended.type).toBe('FINISHED');
    await expectOneExchangeAndOnePayIn(command, events);
  }, 150_000);
});

// Proves the chain connector — `cli run chain` as its own process, on the real Kafka, PostgreSQL
// and local EVM — pays ETH and USDT transfer requests exactly once: the recipient's on-chain
// balance rises by exactly the amount, BROADCAST and CONFIRMED carry the hash, block and gas the
// chain reports, a re-produced request sends nothing, a request that breaks a rule becomes a dead
// letter with its reason, and two connector instances never hand out a nonce twice.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DatabasePool } from 'slonik';
import type { ChainEvent } from '../schemas/generated/records.ts';
import { localHostWallet } from '../stack/evm/local-wallets.ts';
import { deadLetterTopicOf, topicNames } from '../topics/topics.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { ethBalanceOf, freshAddress, localEvmProvider, usdtBalanceOf } from './support/local-evm.ts';
import { startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { openTopicProducer, type TopicProducer } from './support/topic-producer.ts';
import { readTopic } from './support/topic-records.ts';
import {
  chainEventsOf,
  eventOfType,
  hostNonce,
  mintUsdtToHost,
  requestTransfer,
  storedTransferOf,
  transferRequest,
  waitForChainEvent,
  waitForTransferState,
} from './support/chain-transfers.ts';

const connectorEnvironment = {
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_CONFIRMATIONS: '2',
  KAFKA_SESSION_TIMEOUT: '6s',
  KAFKA_REBALANCE_TIMEOUT: '10s',
};

let database: DatabasePool;
let producer: TopicProducer;
let connector: ProcessorProcess;

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(inject('endpoints'));
  connector = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: connectorEnvironment, readyTimeoutMs: 120_000 });
});

afterAll(async () => {
  await connector?.terminate();
  await producer?.close();
  await database?.end();
});

function typesOf(events: readonly ChainEvent[]): string[] {
  return events.map((event) => event.type).sort();
}

describe('the chain connector', () => {
  it('pays ETH and USDT once each, with BROADCAST and CONFIRMED as the chain reports them, and a replay sends nothing', async () => {
    const ethRecipient = freshAddress();
    const usdtRecipient = freshAddress();
    await mintUsdtToHost(25_000_000n);
    const nonceBefore = await hostNonce();
    const ethRequest = transferRequest('ETH', ethRecipient, 12_300_000_000_000_000n);
    const usdtRequest = transferRequest('USDT', usdtRecipient.toLowerCase(), 2_500_000n);

    await requestTransfer(producer, ethRequest);
    await requestTransfer(producer, usdtRequest);
    await waitForTransferState(database, ethRequest.transfer_id, 'confirmed');
    await waitForTransferState(database, usdtRequest.transfer_id, 'confirmed');

    expect(await ethBalanceOf(ethRecipient)).toBe(12_300_000_000_000_000n);
    expect(await usdtBalanceOf(usdtRecipient)).toBe(2_500_000n);
    expect(await hostNonce()).toBe(nonceBefore + 2);

    for (const request of [ethRequest, usdtRequest]) {
      const events = await waitForChainEvent(request.transfer_id, 'CONFIRMED');
      expect(typesOf(events)).toEqual(['BROADCAST', 'CONFIRMED']);
      const broadcast = eventOfType(events, 'BROADCAST');
      const confirmed = eventOfType(events, 'CONFIRMED');
      expect(broadcast).toMatchObject({ event_id: `${request.transfer_id}:BROADCAST:1`, command_id: request.command_id });
      expect(confirmed.tx_hash).toBe(broadcast.tx_hash);
      expect(confirmed.nonce).toBe(broadcast.nonce);
      const receipt = await localEvmProvider().getTransactionReceipt(confirmed.tx_hash ?? '');
      expect(receipt?.status).toBe(1);
      expect(receipt?.from).toBe(localHostWallet.address);
      expect(confirmed.block_number).toBe(receipt?.blockNumber);
      expect(confirmed.gas_used).toBe(receipt?.gasUsed);
      expect(confirmed.effective_gas_price_wei).toBe(receipt?.gasPrice);
      const transaction = await localEvmProvider().getTransaction(confirmed.tx_hash ?? '');
      expect(transaction?.nonce).toBe(confirmed.nonce);
    }
    expect(eventOfType(await chainEventsOf(ethRequest.transfer_id), 'CONFIRMED').gas_used).toBe(21_000n);

    // An operator re-produces both requests; a fresh marker request behind them shows when the
    // connector has read past them.
    await requestTransfer(producer, ethRequest);
    await requestTransfer(producer, usdtRequest);
    const marker = transferRequest('ETH', freshAddress(), 1n);
    await requestTransfer(producer, marker);
    await waitForTransferState(database, marker.transfer_id, 'confirmed');
    await waitForChainEvent(marker.transfer_id, 'CONFIRMED');

    expect(await ethBalanceOf(ethRecipient)).toBe(12_300_000_000_000_000n);
    expect(await usdtBalanceOf(usdtRecipient)).toBe(2_500_000n);
    expect(await hostNonce()).toBe(nonceBefore + 3);
    expect(typesOf(await chainEventsOf(ethRequest.transfer_id))).toEqual(['BROADCAST', 'CONFIRMED']);
    expect(typesOf(await chainEventsOf(usdtRequest.transfer_id))).toEqual(['BROADCAST', 'CONFIRMED']);
  }, 120_000);

  it('dead-letters a request with an invalid address or a zero amount, with the reason, and sends nothing', async () => {
    const nonceBefore = await hostNonce();
    const badAddress = transferRequest('ETH', '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293Bc', 5n);
    const zeroAmount = transferRequest('USDT', freshAddress(), 0n);
    await requestTransfer(producer, badAddress);
    await requestTransfer(producer, zeroAmount);

    const letters = await eventually(
      async () => {
        const records = await readTopic(inject('endpoints'), deadLetterTopicOf(topicNames.transferRequests));
        const byId = new Map(records.map((record) => [record.headers['dlq-message-id']?.toString(), record]));
        const found = [byId.get(badAddress.transfer_id), byId.get(zeroAmount.transfer_id)];
        if (found.some((record) => record === undefined)) throw new Error('dead letters not there yet');
        return found;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(letters[0]?.headers['dlq-rule']?.toString()).toBe('evm-address');
    expect(letters[0]?.headers['dlq-reason']?.toString()).toMatch(/not a valid EVM address/);
    expect(letters[1]?.headers['dlq-rule']?.toString()).toBe('positive');
    expect(letters[1]?.headers['dlq-field']?.toString()).toBe('amount_base_units');
    expect(await storedTransferOf(database, badAddress.transfer_id)).toBeNull();
    expect(await storedTransferOf(database, zeroAmount.transfer_id)).toBeNull();
    expect(await hostNonce()).toBe(nonceBefore);
  }, 60_000);

  it('with two connector instances, hands out every nonce once and pays every transfer once', async () => {
    const second = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: connectorEnvironment, readyTimeoutMs: 120_000 });
    try {
      const nonceBefore = await hostNonce();
      const requests = Array.from({ length: 6 }, (_, index) => transferRequest('ETH', freshAddress(), 1_000_000_000n + BigInt(index)));
      for (const request of requests) await requestTransfer(producer, request);
      const nonces: bigint[] = [];
      for (const request of requests) {
        const stored = await waitForTransferState(database, request.transfer_id, 'confirmed');
        nonces.push(stored.nonce ?? -1n);
        expect(await ethBalanceOf(request.to_address)).toBe(request.amount_base_units);
      }
      expect(new Set(nonces).size).toBe(requests.length);
      expect(await hostNonce()).toBe(nonceBefore + requests.length);
    } finally {
      await second.terminate();
    }
  }, 120_000);
});

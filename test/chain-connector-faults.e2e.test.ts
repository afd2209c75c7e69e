// Proves each fault ends a transfer in the right state, with the reason recorded and nothing sent
// twice: a wallet that cannot pay is refused before signing (FAILED, no transaction); a transfer
// that would revert is refused on its estimate; one that reverts on chain is REVERTED with the
// gas it used; one the node forgets is DROPPED and the same signed bytes are sent again, then
// confirm once; one whose nonce another transaction takes is REPLACED; the RPC node frozen for a
// while delays the transfer, /ready says why, and it completes once after; a fee cap below the
// node's fee holds the transfer with the reason until the connector runs with a higher cap. The
// connector runs as its own process throughout.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Contract } from 'ethers';
import type { DatabasePool } from 'slonik';
import { localUsdtOwnerAbi } from '../stack/evm/local-usdt-artifact.ts';
import { localDeployer, localHostWallet } from '../stack/evm/local-wallets.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import {
  dropTransaction,
  ethBalanceOf,
  freshAddress,
  localEvmProvider,
  localSigner,
  mineBlock,
  setUsdtBlacklisted,
  usdtAddress,
  usdtBalanceOf,
  whileLocalEvmPaused,
  withoutMining,
} from './support/local-evm.ts';
import { startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { openTopicProducer, type TopicProducer } from './support/topic-producer.ts';
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
  type StoredTransfer,
} from './support/chain-transfers.ts';

const connectorEnvironment = {
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_CONFIRMATIONS: '2',
  CHAIN_DROPPED_AFTER: '2s',
  CHAIN_RPC_TIMEOUT: '1s',
  KAFKA_SESSION_TIMEOUT: '6s',
  KAFKA_REBALANCE_TIMEOUT: '10s',
};
const ether = 10n ** 18n;

let database: DatabasePool;
let producer: TopicProducer;
let connector: ProcessorProcess;

async function startConnector(extra: Record<string, string> = {}): Promise<ProcessorProcess> {
  return startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: { ...connectorEnvironment, ...extra }, readyTimeoutMs: 120_000 });
}

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(inject('endpoints'));
  connector = await startConnector();
});

afterAll(async () => {
  await connector?.terminate();
  await producer?.close();
  await database?.end();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function metricsText(): Promise<string> {
  return (await fetch(`${connector.url}/metrics`)).text();
}

async function waitForStored(transferId: string, check: (stored: StoredTransfer) => boolean, what: string, timeoutMs = 30_000): Promise<StoredTransfer> {
  return eventually(
    async () => {
      const stored = await storedTransferOf(database, transferId);
      if (stored === null || !check(stored)) throw new Error(`transfer ${transferId} is not ${what} yet: ${JSON.stringify(stored, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}`);
      return stored;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

describe('the chain connector under faults', () => {
  it('refuses transfers the host wallet cannot pay, naming both numbers, and sends nothing', async () => {
    const nonceBefore = await hostNonce();
    const tooMuchEth = transferRequest('ETH', freshAddress(), 1_000_000n * ether);
    const hostUsdt = await usdtBalanceOf(localHostWallet.address);
    const tooMuchUsdt = transferRequest('USDT', freshAddress(), hostUsdt + 1n);
    await requestTransfer(producer, tooMuchEth);
    await requestTransfer(producer, tooMuchUsdt);

    const ethFailure = await waitForTransferState(database, tooMuchEth.transfer_id, 'failed');
    expect(ethFailure.failure_reason).toMatch(/^insufficient ETH: the transfer needs 1000000\.\d+ ETH \(1000000\.0 ETH \+ up to [\d.]+ ETH gas\) but the host wallet has [\d.]+ ETH available/);
    const usdtFailure = await waitForTransferState(database, tooMuchUsdt.transfer_id, 'failed');
    expect(usdtFailure.failure_reason).toMatch(/^insufficient USDT: the transfer needs [\d.]+ USDT but the host wallet has [\d.]+ USDT available/);
    expect(ethFailure.tx_hash).toBeNull();

    const events = await waitForChainEvent(tooMuchEth.transfer_id, 'FAILED');
    expect(events.map((event) => event.type)).toEqual(['FAILED']);
    expect(eventOfType(events, 'FAILED').failure_reason).toBe(ethFailure.failure_reason);
    expect(await hostNonce()).toBe(nonceBefore);
    const metrics = await metricsText();
    expect(metrics).toMatch(/chain_transfer_refused_total\{[^}]*reason="insufficient_eth"[^}]*\} 1/);
    expect(metrics).toMatch(/chain_transfer_refused_total\{[^}]*reason="insufficient_usdt"[^}]*\} 1/);
  }, 60_000);

  it('refuses a token transfer whose estimate reverts (recipient blacklisted) as FAILED "would revert", with no transaction', async () => {
    await mintUsdtToHost(5_000_000n);
    const recipient = freshAddress();
    await setUsdtBlacklisted(recipient);
    const nonceBefore = await hostNonce();
    const request = transferRequest('USDT', recipient, 1_000_000n);
    await requestTransfer(producer, request);

    const failed = await waitForTransferState(database, request.transfer_id, 'failed');
    expect(failed.failure_reason).toMatch(/^would revert: /);
    expect(failed.tx_hash).toBeNull();
    expect(eventOfType(await waitForChainEvent(request.transfer_id, 'FAILED'), 'FAILED').failure_reason).toBe(failed.failure_reason);
    expect(await hostNonce()).toBe(nonceBefore);
    expect(await usdtBalanceOf(recipient)).toBe(0n);
  }, 60_000);

  it('reports a transfer that reverts on chain (recipient blacklisted after the broadcast) as REVERTED with the gas it used', async () => {
    await mintUsdtToHost(5_000_000n);
    const recipient = freshAddress();
    const nonceBefore = await hostNonce();
    const request = transferRequest('USDT', recipient, 1_000_000n);
    await withoutMining(async () => {
      await requestTransfer(producer, request);
      await waitForStored(request.transfer_id, (stored) => stored.state === 'broadcast', 'broadcast');
      // Blacklisted in the same block, ahead of our transfer (a far higher tip orders it first).
      const usdt = new Contract(usdtAddress(), localUsdtOwnerAbi, localSigner(localDeployer));
      await usdt.getFunction('setBlacklisted').send(recipient, true, { maxPriorityFeePerGas: 50_000_000_000n, maxFeePerGas: 100_000_000_000n });
      await mineBlock();
    });

    const reverted = await waitForTransferState(database, request.transfer_id, 'reverted');
    const receipt = await localEvmProvider().getTransactionReceipt(reverted.tx_hash ?? '');
    expect(receipt?.status).toBe(0);
    const event = eventOfType(await waitForChainEvent(request.transfer_id, 'REVERTED'), 'REVERTED');
    expect(event.tx_hash).toBe(reverted.tx_hash);
    expect(event.gas_used).toBe(receipt?.gasUsed);
    expect(event.block_number).toBe(receipt?.blockNumber);
    expect(event.failure_reason).toMatch(/reverted on chain in block \d+ \(receipt status 0\), gas used \d+/);
    expect(await usdtBalanceOf(recipient)).toBe(0n);
    expect(await hostNonce()).toBe(nonceBefore + 1);
  }, 90_000);

  it('sends the same signed transaction again when the node drops it, and confirms it once', async () => {
    const recipient = freshAddress();
    const amount = 3n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    let hash = '';
    await withoutMining(async () => {
      await requestTransfer(producer, request);
      const broadcast = await waitForStored(request.transfer_id, (stored) => stored.state === 'broadcast', 'broadcast');
      hash = broadcast.tx_hash ?? '';
      expect(await dropTransaction(hash)).toBe(true);
      expect(await localEvmProvider().getTransaction(hash)).toBeNull();
      // CHAIN_DROPPED_AFTER is 2 s: then the connector notices and sends the stored bytes again.
      await waitForStored(request.transfer_id, (stored) => stored.drop_count >= 1, 'dropped');
      expect(await localEvmProvider().getTransaction(hash)).not.toBeNull();
      await mineBlock();
    });

    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed');
    expect(confirmed.tx_hash).toBe(hash);
    expect(confirmed.drop_count).toBe(1);
    const events = await waitForChainEvent(request.transfer_id, 'CONFIRMED');
    expect(events.map((event) => event.event_id).sort()).toEqual(
      [`${request.transfer_id}:BROADCAST:1`, `${request.transfer_id}:CONFIRMED:1`, `${request.transfer_id}:DROPPED:1`].sort(),
    );
    expect(new Set(events.map((event) => event.tx_hash))).toEqual(new Set([hash]));
    expect(await ethBalanceOf(recipient)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 1);
  }, 90_000);

  it('reports REPLACED, terminal, when another transaction takes the nonce of a broadcast transfer', async () => {
    const recipient = freshAddress();
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, 6n * 10n ** 15n);
    let nonce = -1n;
    await withoutMining(async () => {
      await requestTransfer(producer, request);
      const broadcast = await waitForStored(request.transfer_id, (stored) => stored.state === 'broadcast', 'broadcast');
      nonce = broadcast.nonce ?? -1n;
      // Someone else with the host key spends the same nonce before ours is mined.
      expect(await dropTransaction(broadcast.tx_hash ?? '')).toBe(true);
      await localSigner(localHostWallet).sendTransaction({ to: freshAddress(), value: 1n, nonce: Number(nonce), maxPriorityFeePerGas: 10_000_000_000n, maxFeePerGas: 20_000_000_000n });
      await mineBlock();
    });

    const replaced = await waitForTransferState(database, request.transfer_id, 'replaced');
    expect(replaced.failure_reason).toBe(`nonce ${nonce} was used by another transaction (the wallet's mined nonce is ${nonce + 1n}) and ours was never mined`);
    const events = await waitForChainEvent(request.transfer_id, 'REPLACED');
    expect(events.map((event) => event.type).sort()).toEqual(['BROADCAST', 'REPLACED']);
    expect(eventOfType(events, 'REPLACED')).toMatchObject({ tx_hash: replaced.tx_hash, nonce: Number(nonce), failure_reason: replaced.failure_reason });
    expect(await ethBalanceOf(recipient)).toBe(0n);
    expect(await hostNonce()).toBe(nonceBefore + 1);
  }, 90_000);

  it('waits out an RPC node frozen for ~10 s, says so on /ready, and completes the transfer once after', async () => {
    const recipient = freshAddress();
    const amount = 4n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    await whileLocalEvmPaused(async () => {
      await requestTransfer(producer, request);
      await waitForStored(request.transfer_id, (stored) => stored.state === 'requested', 'recorded');
      const ready = await eventually(
        async () => {
          const response = await fetch(`${connector.url}/ready`);
          const body = (await response.json()) as { checks: Record<string, string> };
          if (response.status !== 503 || body.checks['evm'] === 'ok') throw new Error(`still ready: ${JSON.stringify(body)}`);
          return body;
        },
        { timeoutMs: 10_000 },
      );
      expect(ready.checks['database']).toBe('ok');
      await sleep(10_000);
      // Nothing moved while the node could not answer.
      expect((await storedTransferOf(database, request.transfer_id))?.state).toBe('requested');
    });

    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed', 90_000);
    expect(await ethBalanceOf(recipient)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 1);
    const events = await waitForChainEvent(request.transfer_id, 'CONFIRMED');
    expect(events.map((event) => event.type).sort()).toEqual(['BROADCAST', 'CONFIRMED']);
    expect(eventOfType(events, 'CONFIRMED').tx_hash).toBe(confirmed.tx_hash);
    expect((await fetch(`${connector.url}/ready`)).status).toBe(200);
  }, 120_000);

  it('holds a transfer while the node fee is above CHAIN_MAX_FEE_PER_GAS_GWEI, with the reason, and sends it once the cap is raised', async () => {
    await connector.terminate();
    connector = await startConnector({ CHAIN_MAX_FEE_PER_GAS_GWEI: '0.000000001' });
    const recipient = freshAddress();
    const amount = 5n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    await requestTransfer(producer, request);

    const waiting = await waitForStored(request.transfer_id, (stored) => stored.waiting_reason !== null, 'waiting');
    expect(waiting.state).toBe('requested');
    expect(waiting.waiting_reason).toMatch(/^fee above cap: the node's fee is [\d.]+ gwei .* above CHAIN_MAX_FEE_PER_GAS_GWEI 0\.000000001 gwei/);
    await eventually(async () => expect(await metricsText()).toMatch(/chain_transfers_waiting\{[^}]*\} 1\n/));
    await sleep(2_000);
    expect(await storedTransferOf(database, request.transfer_id)).toMatchObject({ state: 'requested', tx_hash: null });
    expect(await hostNonce()).toBe(nonceBefore);
    expect(await chainEventsOf(request.transfer_id)).toEqual([]);

    await connector.terminate();
    connector = await startConnector();
    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed');
    expect(confirmed.waiting_reason).toBeNull();
    expect(await ethBalanceOf(recipient)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 1);
  }, 120_000);
});

// Proves the chain connector never wedges on one transaction, on the real Hardhat node with mining
// under the test's control: a transaction pending past CHAIN_STUCK_AFTER is replaced at its nonce
// by the same payment at ≥ +10 % fees and whichever stored hash is mined confirms the transfer once;
// one the node refuses (the wallet drained under it) has its nonce filled by a zero-value
// self-transfer, ends REPLACED, and the next transfer goes through; one it refuses as below the base
// fee is signed again at the current fee and paid once; SIGKILL after signing a bump and
// after storing it still mines exactly one transaction; ETH gas is estimated (a contract wallet
// paid beyond 21,000 gas) and a transfer needing more than CHAIN_GAS_LIMIT_MAX fails with the reason.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { localHostWallet } from '../stack/evm/local-wallets.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { dropTransaction, ethBalanceOf, freshAddress, localEvmProvider, mineBlock, withoutMining } from './support/local-evm.ts';
import { startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { openTopicProducer, type TopicProducer } from './support/topic-producer.ts';
import { chainEventsOf, eventOfType, hostNonce, requestTransfer, storedTransferOf, transferRequest, waitForChainEvent, waitForTransferState } from './support/chain-transfers.ts';

const connectorEnvironment = {
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_CONFIRMATIONS: '2',
  CHAIN_STUCK_AFTER: '3s',
  KAFKA_SESSION_TIMEOUT: '6s',
  KAFKA_REBALANCE_TIMEOUT: '10s',
};

let database: DatabasePool;
let producer: TopicProducer;
let connector: ProcessorProcess | undefined;

async function startConnector(extra: Record<string, string> = {}, waitReady = true): Promise<ProcessorProcess> {
  return startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: { ...connectorEnvironment, ...extra }, readyTimeoutMs: 120_000, waitReady });
}

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(inject('endpoints'));
});

afterAll(async () => {
  await connector?.kill();
  await producer?.close();
  await database?.end();
});

const attemptRow = z.object({
  tx_hash: z.string(),
  attempt: z.number(),
  kind: z.string(),
  nonce: z.bigint(),
  raw_transaction: z.string(),
  max_fee_per_gas_wei: z.string(),
  max_priority_fee_per_gas_wei: z.string(),
  reason: z.string(),
  broadcast_at: z.date().nullable(),
});

async function attemptsOf(transferId: string): Promise<z.infer<typeof attemptRow>[]> {
  return [
    ...(await database.any(sql.type(attemptRow)`
      SELECT tx_hash, attempt, kind, nonce, raw_transaction, max_fee_per_gas_wei::text, max_priority_fee_per_gas_wei::text, reason, broadcast_at
      FROM chain_transfer_attempts WHERE transfer_id = ${transferId} ORDER BY attempt`)),
  ];
}

async function waitForAttempts(transferId: string, count: number, broadcast: boolean, timeoutMs = 30_000): Promise<z.infer<typeof attemptRow>[]> {
  return eventually(
    async () => {
      const attempts = await attemptsOf(transferId);
      const last = attempts[count - 1];
      if (last === undefined || (broadcast && last.broadcast_at === null)) throw new Error(`transfer ${transferId} has ${attempts.length} attempt(s), waiting for ${count}`);
      return attempts;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the connector did not die at its failpoint within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal);
    });
  });
}

async function transactionAtNonce(nonce: bigint): Promise<{ hash: string; to: string | null; value: bigint }> {
  const provider = localEvmProvider();
  for (let number = await provider.getBlockNumber(); number >= 0; number -= 1) {
    const block = await provider.getBlock(number, true);
    const found = block?.prefetchedTransactions.find((transaction) => transaction.from === localHostWallet.address && BigInt(transaction.nonce) === nonce);
    if (found !== undefined) return { hash: found.hash, to: found.to, value: found.value };
  }
  throw new Error(`no mined transaction of the host wallet at nonce ${nonce}`);
}

const ether = 10n ** 18n;

describe('the chain connector never wedges', () => {
  it('replaces a transaction pending past CHAIN_STUCK_AFTER with the same payment at ≥ +10 % fees, and confirms the mined one once', async () => {
    connector = await startConnector();
    const recipient = freshAddress();
    const amount = 11n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    let attempts: z.infer<typeof attemptRow>[] = [];
    await withoutMining(async () => {
      await requestTransfer(producer, request);
      attempts = await waitForAttempts(request.transfer_id, 2, true);
      await mineBlock();
    });
    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed');
    const [original, bump] = attempts;
    expect(original).toMatchObject({ attempt: 1, kind: 'original' });
    expect(bump).toMatchObject({ attempt: 2, kind: 'fee_bump', nonce: original?.nonce });
    expect(bump?.reason).toMatch(/^pending for \d+ s \(CHAIN_STUCK_AFTER 3 s\)/);
    expect(BigInt(bump?.max_fee_per_gas_wei ?? 0) * 10n).toBeGreaterThanOrEqual(BigInt(original?.max_fee_per_gas_wei ?? 0) * 11n);
    expect(BigInt(bump?.max_priority_fee_per_gas_wei ?? 0) * 10n).toBeGreaterThanOrEqual(BigInt(original?.max_priority_fee_per_gas_wei ?? 0) * 11n);
    // Every stored hash shares the nonce; the one mined is a stored one, and it paid once.
    expect(new Set((await attemptsOf(request.transfer_id)).map((attempt) => attempt.nonce))).toEqual(new Set([original?.nonce]));
    expect((await attemptsOf(request.transfer_id)).map((attempt) => attempt.tx_hash)).toContain(confirmed.tx_hash);
    expect(await ethBalanceOf(recipient)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 1);
    const events = await waitForChainEvent(request.transfer_id, 'CONFIRMED');
    expect(events.filter((event) => event.type === 'CONFIRMED')).toHaveLength(1);
    expect(eventOfType(events, 'CONFIRMED').tx_hash).toBe(confirmed.tx_hash);
  }, 120_000);

  it('confirms the transfer when the node mines an earlier attempt than the current one', async () => {
    const recipient = freshAddress();
    const amount = 12n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    let originalHash = '';
    await withoutMining(async () => {
      await requestTransfer(producer, request);
      const [original, bump] = await waitForAttempts(request.transfer_id, 2, true);
      originalHash = original?.tx_hash ?? '';
      // The network forgets the bump and still has the original (another node's pool): mine that.
      expect(await dropTransaction(bump?.tx_hash ?? '')).toBe(true);
      await localEvmProvider().send('eth_sendRawTransaction', [original?.raw_transaction]);
      await mineBlock();
    });
    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed');
    expect(confirmed.tx_hash).toBe(originalHash);
    expect(await ethBalanceOf(recipient)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 1);
    expect(eventOfType(await waitForChainEvent(request.transfer_id, 'CONFIRMED'), 'CONFIRMED').tx_hash).toBe(originalHash);
  }, 120_000);

  it('fills the nonce of a payment the node refuses with a zero-value self-transfer, ends it REPLACED, and the next transfer goes through', async () => {
    await connector?.terminate();
    connector = await startConnector({ PIPELINE_FAILPOINTS: 'chain.after-sign' });
    const recipient = freshAddress();
    const amount = 7n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    await requestTransfer(producer, request);
    expect(await exitOf(connector.child, 60_000)).toBe('SIGKILL');
    const signed = await storedTransferOf(database, request.transfer_id);
    expect(signed?.state).toBe('signed');

    // The wallet is drained under the signed payment: the node refuses it, but can take 21,000 gas.
    const provider = localEvmProvider();
    const balanceBefore = await ethBalanceOf(localHostWallet.address);
    await provider.send('hardhat_setBalance', [localHostWallet.address, `0x${(ether / 1_000n).toString(16)}`]);
    try {
      connector = await startConnector();
      const replaced = await waitForTransferState(database, request.transfer_id, 'replaced');
      expect(replaced.failure_reason).toMatch(/^the payment was not sent: the node refused the broadcast: .*(insufficient funds|enough funds).*; nonce \d+ was filled by the zero-value self-transfer 0x[0-9a-f]{64}/i);
      const attempts = await attemptsOf(request.transfer_id);
      expect(attempts.map((attempt) => attempt.kind)).toEqual(['original', 'cancel']);
      const mined = await transactionAtNonce(signed?.nonce ?? -1n);
      expect(mined).toEqual({ hash: attempts[1]?.tx_hash, to: localHostWallet.address, value: 0n });
      const event = eventOfType(await waitForChainEvent(request.transfer_id, 'REPLACED'), 'REPLACED');
      expect(event.failure_reason).toBe(replaced.failure_reason);
      expect(await ethBalanceOf(recipient)).toBe(0n);
      expect(await hostNonce()).toBe(nonceBefore + 1);
    } finally {
      await provider.send('hardhat_setBalance', [localHostWallet.address, `0x${balanceBefore.toString(16)}`]);
    }

    const next = transferRequest('ETH', freshAddress(), amount);
    await requestTransfer(producer, next);
    await waitForTransferState(database, next.transfer_id, 'confirmed');
    expect(await ethBalanceOf(next.to_address)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 2);
  }, 180_000);

  it('signs the same payment again at the current fee when the node refuses its max fee as below the base fee, and pays once', async () => {
    await connector?.terminate();
    const crashing = await startConnector({ PIPELINE_FAILPOINTS: 'chain.after-sign' });
    connector = crashing;
    const recipient = freshAddress();
    const amount = 9n * 10n ** 15n;
    const nonceBefore = await hostNonce();
    const request = transferRequest('ETH', recipient, amount);
    await requestTransfer(producer, request);
    expect(await exitOf(crashing.child, 60_000)).toBe('SIGKILL');
    expect((await storedTransferOf(database, request.transfer_id))?.state).toBe('signed');

    // The base fee jumps to 50 gwei before the signed payment (max fee ~1 gwei) is sent: with
    // automine on, Hardhat refuses it as too low for the next block.
    const provider = localEvmProvider();
    const gwei = 1_000_000_000n;
    let attempts: z.infer<typeof attemptRow>[] = [];
    await provider.send('evm_setIntervalMining', [0]);
    try {
      await provider.send('hardhat_setNextBlockBaseFeePerGas', [`0x${(50n * gwei).toString(16)}`]);
      connector = await startConnector();
      attempts = await waitForAttempts(request.transfer_id, 2, true, 60_000);
    } finally {
      await provider.send('evm_setIntervalMining', [inject('localEvm')?.blockIntervalMs ?? 1_000]);
    }
    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed');
    expect(attempts.map((attempt) => attempt.kind)).toEqual(['original', 'fee_bump']);
    expect(attempts[1]?.reason).toMatch(/^the node refused the broadcast: .*too low for the next block.*; the same payment is signed again at the current fee$/);
    expect(BigInt(attempts[1]?.max_fee_per_gas_wei ?? 0)).toBeGreaterThanOrEqual(50n * gwei);
    expect(confirmed.tx_hash).toBe(attempts[1]?.tx_hash);
    expect(await ethBalanceOf(recipient)).toBe(amount);
    expect(await hostNonce()).toBe(nonceBefore + 1);
  }, 180_000);

  it.each([
    { failpoint: 'chain.after-sign-replacement', attemptsAtCrash: 1 },
    { failpoint: 'chain.after-store-replacement', attemptsAtCrash: 2 },
  ])(
    'killed at $failpoint during a fee bump, mines exactly one transaction for the transfer after a restart',
    async ({ failpoint, attemptsAtCrash }) => {
      await connector?.terminate();
      const crashing = await startConnector({ PIPELINE_FAILPOINTS: failpoint });
      connector = crashing;
      const recipient = freshAddress();
      const amount = 13n * 10n ** 15n;
      const nonceBefore = await hostNonce();
      const request = transferRequest('ETH', recipient, amount);
      await withoutMining(async () => {
        await requestTransfer(producer, request);
        expect(await exitOf(crashing.child, 60_000)).toBe('SIGKILL');
        const atCrash = await attemptsOf(request.transfer_id);
        expect(atCrash).toHaveLength(attemptsAtCrash);
        // The original is in the node's pool; a bump stored before the crash was never sent.
        expect(await localEvmProvider().getTransaction(atCrash[0]?.tx_hash ?? '')).not.toBeNull();
        if (attemptsAtCrash === 2) {
          expect(atCrash[1]?.broadcast_at).toBeNull();
          expect(await localEvmProvider().getTransaction(atCrash[1]?.tx_hash ?? '')).toBeNull();
        }
        connector = await startConnector();
        await waitForAttempts(request.transfer_id, 2, true, 60_000);
        await mineBlock();
      });
      const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed', 90_000);
      const attempts = await attemptsOf(request.transfer_id);
      expect(attempts.map((attempt) => attempt.tx_hash)).toContain(confirmed.tx_hash);
      expect(new Set(attempts.map((attempt) => attempt.nonce)).size).toBe(1);
      expect(await ethBalanceOf(recipient)).toBe(amount);
      expect(await hostNonce()).toBe(nonceBefore + 1);
      await waitForChainEvent(request.transfer_id, 'CONFIRMED');
      const events = await chainEventsOf(request.transfer_id);
      expect(events.filter((event) => event.type === 'CONFIRMED')).toHaveLength(1);
      expect(events.filter((event) => event.type === 'BROADCAST')).toHaveLength(1);
    },
    240_000,
  );

  it('estimates gas for ETH (a contract wallet needs more than 21,000) and fails a transfer above CHAIN_GAS_LIMIT_MAX with the reason', async () => {
    const provider = localEvmProvider();
    // A contract wallet whose receive writes storage: PUSH1 1 PUSH1 0 SSTORE STOP.
    const wallet = freshAddress();
    await provider.send('hardhat_setCode', [wallet, '0x6001600055' + '00']);
    const amount = 2n * 10n ** 15n;
    const request = transferRequest('ETH', wallet, amount);
    await requestTransfer(producer, request);
    const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed');
    const receipt = await provider.getTransactionReceipt(confirmed.tx_hash ?? '');
    expect(receipt?.status).toBe(1);
    expect(receipt?.gasUsed).toBeGreaterThan(21_000n);
    expect(await ethBalanceOf(wallet)).toBe(amount);

    await connector?.terminate();
    connector = await startConnector({ CHAIN_GAS_LIMIT_MAX: '30000' });
    const hungry = freshAddress();
    await provider.send('hardhat_setCode', [hungry, '0x6001600055' + '00']);
    const nonceBefore = await hostNonce();
    const refused = transferRequest('ETH', hungry, amount);
    await requestTransfer(producer, refused);
    const failed = await waitForTransferState(database, refused.transfer_id, 'failed');
    expect(failed.failure_reason).toMatch(/^gas above cap: the transfer needs a gas limit of \d+ \(node estimate \d+ \+ 20 % headroom\), above CHAIN_GAS_LIMIT_MAX 30000$/);
    expect(failed.tx_hash).toBeNull();
    expect(eventOfType(await waitForChainEvent(refused.transfer_id, 'FAILED'), 'FAILED').failure_reason).toBe(failed.failure_reason);
    expect(await hostNonce()).toBe(nonceBefore);
    expect(await ethBalanceOf(hungry)).toBe(0n);
  }, 180_000);
});

// Proves a transfer is sent exactly once whatever step the chain connector dies at: the process
// SIGKILLs itself at each crash point (request stored and nothing signed; signed and stored but
// not broadcast; broadcast recorded but not confirmed), is started again without it, and then the
// recipient's balance has risen once, the host wallet's nonce has advanced by exactly one, the
// transaction that confirms is the very one signed before the crash, and CONFIRMED is emitted once.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DatabasePool } from 'slonik';
import { openTestDatabase } from './support/database.ts';
import { ethBalanceOf, freshAddress, localEvmProvider } from './support/local-evm.ts';
import { startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { openTopicProducer, type TopicProducer } from './support/topic-producer.ts';
import { chainEventsOf, hostNonce, requestTransfer, storedTransferOf, transferRequest, waitForChainEvent, waitForTransferState } from './support/chain-transfers.ts';

const connectorEnvironment = {
  CHAIN_POLL_INTERVAL: '200ms',
  CHAIN_CONFIRMATIONS: '2',
  KAFKA_SESSION_TIMEOUT: '6s',
  KAFKA_REBALANCE_TIMEOUT: '10s',
};

let database: DatabasePool;
let producer: TopicProducer;
let running: ProcessorProcess | undefined;

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(inject('endpoints'));
});

afterAll(async () => {
  await running?.kill();
  await producer?.close();
  await database?.end();
});

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

describe('the chain connector killed between two steps', () => {
  it.each([
    { failpoint: 'chain.after-claim', stateAtCrash: 'requested', onChainAtCrash: false },
    { failpoint: 'chain.after-sign', stateAtCrash: 'signed', onChainAtCrash: false },
    { failpoint: 'chain.after-broadcast', stateAtCrash: 'broadcast', onChainAtCrash: true },
  ])(
    'at $failpoint sends exactly one transaction after a restart',
    async ({ failpoint, stateAtCrash, onChainAtCrash }) => {
      const recipient = freshAddress();
      const amount = 7_000_000_000_000_000n;
      const nonceBefore = await hostNonce();
      running = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', {
        environment: { ...connectorEnvironment, PIPELINE_FAILPOINTS: failpoint },
        readyTimeoutMs: 120_000,
      });
      const request = transferRequest('ETH', recipient, amount);
      await requestTransfer(producer, request);

      expect(await exitOf(running.child, 60_000)).toBe('SIGKILL');
      const atCrash = await storedTransferOf(database, request.transfer_id);
      expect(atCrash?.state).toBe(stateAtCrash);
      expect(await ethBalanceOf(recipient)).toBe(onChainAtCrash ? amount : 0n);
      expect(await hostNonce()).toBe(onChainAtCrash ? nonceBefore + 1 : nonceBefore);
      if (stateAtCrash === 'signed') {
        // Signed and stored, never sent: the node has never seen it.
        expect(await localEvmProvider().getTransaction(atCrash?.tx_hash ?? '')).toBeNull();
      }

      running = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: connectorEnvironment, readyTimeoutMs: 120_000 });
      const confirmed = await waitForTransferState(database, request.transfer_id, 'confirmed', 90_000);
      await waitForChainEvent(request.transfer_id, 'CONFIRMED');

      expect(await ethBalanceOf(recipient)).toBe(amount);
      expect(await hostNonce()).toBe(nonceBefore + 1);
      // The bytes signed before the crash are the ones that confirmed: no second signature.
      if (atCrash?.tx_hash !== null && atCrash?.tx_hash !== undefined) expect(confirmed.tx_hash).toBe(atCrash.tx_hash);
      const receipt = await localEvmProvider().getTransactionReceipt(confirmed.tx_hash ?? '');
      expect(receipt?.status).toBe(1);
      const events = await chainEventsOf(request.transfer_id);
      expect(events.filter((event) => event.type === 'CONFIRMED')).toHaveLength(1);
      expect(new Set(events.filter((event) => event.type === 'BROADCAST').map((event) => event.tx_hash))).toEqual(new Set([confirmed.tx_hash]));

      await running.terminate();
      running = undefined;
    },
    240_000,
  );
});

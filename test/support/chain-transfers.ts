// Helpers for tests of the chain connector: request a transfer on its input topic, read the chain
// events it emitted for one transfer, read its stored state, and give the host wallet USDT.
import { randomUUID } from 'node:crypto';
import { Contract } from 'ethers';
import { inject } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { ChainEvent, ChainEventType, TransferAsset, TransferRequested } from '../../schemas/generated/records.ts';
import { localUsdtOwnerAbi } from '../../stack/evm/local-usdt-artifact.ts';
import { localDeployer, localHostWallet } from '../../stack/evm/local-wallets.ts';
import { topicNames } from '../../topics/topics.ts';
import { eventually } from './eventually.ts';
import { localEvmProvider, localSigner, usdtAddress } from './local-evm.ts';
import type { TopicProducer } from './topic-producer.ts';
import { readTopic } from './topic-records.ts';

export function transferRequest(asset: TransferAsset, toAddress: string, amountBaseUnits: bigint, commandId = `command-${randomUUID()}`): TransferRequested {
  return { transfer_id: `${commandId}:payin`, command_id: commandId, asset, to_address: toAddress, amount_base_units: amountBaseUnits, requested_at: new Date() };
}

export async function requestTransfer(producer: TopicProducer, request: TransferRequested): Promise<void> {
  await producer.send(topicNames.transferRequests, 'transfer-requested', request.transfer_id, request, `test-${request.transfer_id}`);
}

export async function chainEventsOf(transferId: string): Promise<ChainEvent[]> {
  const records = await readTopic(inject('endpoints'), topicNames.chainEvents);
  return records.map((record) => record.value as ChainEvent).filter((event) => event.transfer_id === transferId);
}

/** Waits until the transfer has an event of `type`, and returns all of its events. */
export async function waitForChainEvent(transferId: string, type: ChainEventType, timeoutMs = 60_000): Promise<ChainEvent[]> {
  return eventually(
    async () => {
      const events = await chainEventsOf(transferId);
      if (!events.some((event) => event.type === type)) {
        throw new Error(`no ${type} event for ${transferId} yet; seen: ${events.map((event) => event.type).join(', ') || 'none'}`);
      }
      return events;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export function eventOfType(events: readonly ChainEvent[], type: ChainEventType): ChainEvent {
  const matching = events.filter((event) => event.type === type);
  if (matching.length === 0) throw new Error(`no ${type} event among ${events.map((event) => event.type).join(', ')}`);
  return matching[0] as ChainEvent;
}

const storedTransfer = z.object({
  state: z.string(),
  tx_hash: z.string().nullable(),
  nonce: z.bigint().nullable(),
  waiting_reason: z.string().nullable(),
  failure_reason: z.string().nullable(),
  drop_count: z.number(),
});
export type StoredTransfer = z.infer<typeof storedTransfer>;

export async function storedTransferOf(database: DatabasePool, transferId: string): Promise<StoredTransfer | null> {
  return database.maybeOne(sql.type(storedTransfer)`
    SELECT state, tx_hash, nonce, waiting_reason, failure_reason, drop_count FROM chain_transfers WHERE transfer_id = ${transferId}`);
}

/** The host wallet's mined nonce: how many transactions it has ever had mined. */
export async function hostNonce(): Promise<number> {
  return localEvmProvider().getTransactionCount(localHostWallet.address, 'latest');
}

/** Mints USDT (base units) to the host wallet from the contract's owner, and waits until it is mined. */
export async function mintUsdtToHost(amountBaseUnits: bigint): Promise<void> {
  const usdt = new Contract(usdtAddress(), localUsdtOwnerAbi, localSigner(localDeployer));
  const response = await usdt.getFunction('mint').send(localHostWallet.address, amountBaseUnits);
  await response.wait();
}

/** Waits until the stored transfer is in `state` (the database answers far faster than reading the topic). */
export async function waitForTransferState(database: DatabasePool, transferId: string, state: string, timeoutMs = 60_000): Promise<StoredTransfer> {
  return eventually(
    async () => {
      const stored = await storedTransferOf(database, transferId);
      if (stored?.state !== state) throw new Error(`transfer ${transferId} is ${stored === null ? 'not recorded' : stored.state}, not ${state}`);
      return stored;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

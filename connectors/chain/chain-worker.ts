// The chain connector's worker: one pass carries every open transfer one step further through
// requested → signed → broadcast → confirmed | reverted | replaced (or requested → failed).
//
// Why a transfer is sent at most once:
// - Only the holder of the sender's PostgreSQL advisory lock works. The lock is session-level, on
//   the one connection the whole pass runs on, so every write of the pass — above all the nonce
//   allocation — happens while the lock is held: if the connection dies, the lock and the
//   uncommitted writes die together. A second instance finds the lock taken and skips its pass.
// - The nonce is allocated in the SAME transaction that stores the signed raw transaction and its
//   hash (state `signed`), and that transaction commits BEFORE the bytes are broadcast. Whatever
//   dies afterwards, the next pass finds the stored bytes and sends them again: the same hash,
//   never a second signature. A node that already has them answers "known" or "nonce too low";
//   both are resolved by asking the chain (our receipt by hash, the wallet's mined nonce), never by
//   signing again.
// - An RPC error means "no answer" (retried with backoff, then the pass stops) or "the node said
//   no" (a decision below); no state changes on a call that did not answer.
//
// Order within a pass: send what is signed (lowest nonce first), watch what is broadcast, then
// sign new requests — so the balance check for a new transfer sees the outcome of the earlier ones.
import type { DatabasePool, DatabasePoolConnection, DatabaseTransactionConnection } from 'slonik';
import { assertInvariant, InvariantViolation, isRetriable } from '../../core/errors.ts';
import { failpoint } from '../../core/failpoints.ts';
import type { Logger } from '../../core/logger.ts';
import { insertOutboxRecords, type OutboxRecord } from '../../core/processing/outbox.ts';
import { createRetry, type Retry } from '../../core/retry.ts';
import type { ChainSettings } from './chain-settings.ts';
import {
  broadcastEvent,
  confirmedEvent,
  droppedEvent,
  failedEvent,
  replacedEvent,
  revertedEvent,
  type EventSubject,
  type SignedSubject,
} from './chain-events.ts';
import type { ChainMetrics } from './chain-metrics.ts';
import { EvmRpcError, EvmUnavailableError, rejectionOf } from './evm-errors.ts';
import type { EvmRpc, TransactionReceipt } from './evm-rpc.ts';
import { feeAboveCapPrefix, planFees } from './fee-plan.ts';
import { checkFunding, checkTokenFunding, type WalletSnapshot } from './funding-check.ts';
import {
  countOpenTransfers,
  loadOpenTransfers,
  lockNextNonce,
  pendingSpendOf,
  recordBroadcast,
  recordBroadcastAttempt,
  recordDropped,
  recordFailed,
  recordMinedOutcome,
  recordReplaced,
  recordSeen,
  recordWaiting,
  storeSigned,
  tryLockSender,
  unlockSender,
  type TransferRow,
} from './transfer-store.ts';
import {
  decideAfterNonceTooLow,
  decideBroadcast,
  decideWatch,
  type BroadcastResult,
  type ChainView,
  type ReceiptView,
} from './transfer-progress.ts';
import {
  balanceOfCallData,
  decodeBalanceOf,
  ethTransferGas,
  gasLimitWithHeadroom,
  hasTransferLog,
  transferCallOf,
  type TransferSigner,
} from './transfer-transaction.ts';

export interface ChainWorkerOptions {
  pool: DatabasePool;
  rpc: EvmRpc;
  signer: TransferSigner;
  usdtContractAddress: string;
  settings: ChainSettings;
  log: Logger;
  metrics: ChainMetrics;
  now: () => Date;
  /** Wraps every chain call; defaults to a short backoff bounded well below a pass's patience. */
  retry?: Retry;
}

export interface PassSummary {
  /** False when another instance held the sender lock and this pass did nothing. */
  readonly leader: boolean;
}

export interface ChainWorker {
  runPass(): Promise<PassSummary>;
}

/** At most this many transfers per state are handled in one pass; the rest wait for the next. */
export const transfersPerPassMax = 100;

interface FeeChoice {
  readonly maxFeePerGasWei: bigint;
  readonly maxPriorityFeePerGasWei: bigint;
}

interface SignedTransferView extends SignedSubject {
  readonly row: TransferRow;
  readonly rawTransaction: string;
  readonly lastSeenAt: Date | null;
}

function subjectOf(row: TransferRow): EventSubject {
  return { transferId: row.transfer_id, commandId: row.command_id, correlationId: row.correlation_id };
}

function signedViewOf(row: TransferRow): SignedTransferView {
  const { tx_hash: txHash, nonce, raw_transaction: rawTransaction } = row;
  assertInvariant(txHash !== null && nonce !== null && rawTransaction !== null, 'a signed transfer has its hash, nonce and raw transaction', { transferId: row.transfer_id });
  return { ...subjectOf(row), row, txHash, nonce, rawTransaction, lastSeenAt: row.last_seen_at };
}

export function createChainWorker(options: ChainWorkerOptions): ChainWorker {
  const { pool, rpc, signer, settings, log, metrics } = options;
  const sender = signer.address;
  const retry =
    options.retry ??
    createRetry({
      attemptsMax: 6,
      delayInitialMs: 250,
      delayMaxMs: 2_000,
      totalMs: 10_000,
      onRetry: (error, attempt) => log.warn({ err: error, attempt }, 'EVM node call failed; retrying'),
    });
  const chain = <T>(call: () => Promise<T>): Promise<T> => retry(call);
  let chainId: bigint | undefined;

  function logOf(view: EventSubject): Logger {
    return log.child({ correlationId: view.correlationId, transferId: view.transferId, commandId: view.commandId });
  }

  /** The state change and the events it causes, in one transaction. */
  async function emitIn(connection: DatabasePoolConnection, records: readonly OutboxRecord[], effect: (transaction: DatabaseTransactionConnection) => Promise<void>): Promise<void> {
    await connection.transaction(async (transaction) => {
      await effect(transaction);
      await insertOutboxRecords(transaction, records);
    });
  }

  function receiptViewOf(receipt: TransactionReceipt, row: TransferRow): ReceiptView {
    const succeeded = receipt.status === 1n;
    const delivered = row.asset === 'ETH' || (succeeded && hasTransferLog(receipt.logs, options.usdtContractAddress, sender, row.to_address, row.amount_base_units));
    return {
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      succeeded,
      delivered,
      gasUsed: receipt.gasUsed,
      effectiveGasPriceWei: receipt.effectiveGasPrice,
    };
  }

  /** Mined nonce first, then the receipt, then the pool (see transfer-progress.ts for why). */
  async function observe(view: SignedTransferView): Promise<ChainView> {
    const minedNonce = await chain(() => rpc.transactionCount(sender, 'latest'));
    const receipt = await chain(() => rpc.transactionReceipt(view.txHash));
    const knownToNode = receipt !== null || (await chain(() => rpc.transaction(view.txHash))) !== null;
    const headBlock = (await chain(() => rpc.latestBlock())).number;
    return { minedNonce, receipt: receipt === null ? null : receiptViewOf(receipt, view.row), knownToNode, headBlock };
  }

  async function send(rawTransaction: string, txHash: string): Promise<BroadcastResult> {
    try {
      const hash = await chain(() => rpc.sendRawTransaction(rawTransaction));
      assertInvariant(hash.toLowerCase() === txHash.toLowerCase(), 'the node hashes our stored transaction to its stored hash', { hash, txHash });
      return { kind: 'accepted' };
    } catch (error) {
      if (error instanceof EvmRpcError) return { kind: 'refused', rejection: rejectionOf(error), message: error.rpcMessage };
      if (error instanceof EvmUnavailableError) return { kind: 'unclear', message: error.message };
      throw error;
    }
  }

  async function markBroadcast(connection: DatabasePoolConnection, view: SignedTransferView, outcome: 'accepted' | 'already_known' | 'mined_earlier'): Promise<void> {
    const now = options.now();
    await emitIn(connection, [broadcastEvent(view, now)], (transaction) => recordBroadcast(transaction, view.transferId, now));
    metrics.broadcast(outcome);
    logOf(view).info({ txHash: view.txHash, nonce: view.nonce.toString(), outcome }, 'transfer broadcast');
    failpoint('chain.after-broadcast');
  }

  async function markReplaced(connection: DatabasePoolConnection, view: SignedTransferView, reason: string): Promise<void> {
    const now = options.now();
    await emitIn(connection, [replacedEvent(view, reason, now)], (transaction) => recordReplaced(transaction, view.transferId, reason, now));
    metrics.finished('replaced');
    logOf(view).error({ alert: true, txHash: view.txHash, nonce: view.nonce.toString(), reason }, 'transfer REPLACED: its nonce was used by another transaction');
  }

  async function broadcastSigned(connection: DatabasePoolConnection, view: SignedTransferView): Promise<void> {
    const result = await send(view.rawTransaction, view.txHash);
    let decision = decideBroadcast(result);
    if (decision.kind === 'look-at-chain') {
      const afterNonceTooLow = decideAfterNonceTooLow(view.nonce, await observe(view));
      if (afterNonceTooLow.kind === 'replaced') {
        await markReplaced(connection, view, afterNonceTooLow.reason);
        return;
      }
      if (afterNonceTooLow.kind === 'broadcast') {
        await markBroadcast(connection, view, 'mined_earlier');
        return;
      }
      decision = afterNonceTooLow;
    }
    if (decision.kind === 'broadcast') {
      await markBroadcast(connection, view, result.kind === 'accepted' ? 'accepted' : 'already_known');
      return;
    }
    metrics.broadcast(result.kind === 'unclear' ? 'unclear' : 'refused');
    await recordBroadcastAttempt(connection, view.transferId, decision.reason, options.now());
    // Said once per reason, not on every poll while it lasts.
    if (view.row.waiting_reason === decision.reason) return;
    if (decision.alert) logOf(view).error({ alert: true, txHash: view.txHash, nonce: view.nonce.toString(), reason: decision.reason }, 'signed transfer not accepted by the node; later nonces wait behind it');
    else logOf(view).warn({ txHash: view.txHash, nonce: view.nonce.toString(), reason: decision.reason }, 'signed transfer not broadcast yet; the same bytes are sent again');
  }

  async function watchBroadcast(connection: DatabasePoolConnection, view: SignedTransferView): Promise<void> {
    assertInvariant(view.lastSeenAt !== null, 'a broadcast transfer has been seen', { transferId: view.transferId });
    const now = options.now();
    const decision = decideWatch({ nonce: view.nonce, lastSeenAt: view.lastSeenAt }, await observe(view), settings, now);
    const transferLog = logOf(view);
    switch (decision.kind) {
      case 'confirmed': {
        await emitIn(connection, [confirmedEvent(view, decision.receipt, now)], (transaction) => recordMinedOutcome(transaction, view.transferId, 'confirmed', decision.receipt, null, now));
        metrics.finished('confirmed');
        metrics.confirmedAfter((now.getTime() - view.row.received_at.getTime()) / 1_000);
        transferLog.info(
          { txHash: view.txHash, blockNumber: decision.receipt.blockNumber.toString(), gasUsed: decision.receipt.gasUsed.toString(), effectiveGasPriceWei: decision.receipt.effectiveGasPriceWei.toString() },
          'transfer confirmed',
        );
        return;
      }
      case 'reverted': {
        await emitIn(connection, [revertedEvent(view, decision.receipt, decision.reason, now)], (transaction) =>
          recordMinedOutcome(transaction, view.transferId, 'reverted', decision.receipt, decision.reason, now),
        );
        metrics.finished('reverted');
        transferLog.error({ alert: true, txHash: view.txHash, reason: decision.reason }, 'transfer REVERTED on chain');
        return;
      }
      case 'mined':
      case 'pending':
        // Also clears a block recorded before a reorganisation moved the transaction back to the pool.
        await recordSeen(connection, view.transferId, decision.kind === 'mined' ? decision.receipt : null, now);
        return;
      case 'replaced':
        await markReplaced(connection, view, decision.reason);
        return;
      case 'dropped': {
        const result = await send(view.rawTransaction, view.txHash);
        if (result.kind === 'accepted' || (result.kind === 'refused' && result.rejection === 'already-known')) {
          let dropCount = 0;
          await connection.transaction(async (transaction) => {
            dropCount = await recordDropped(transaction, view.transferId, now);
            await insertOutboxRecords(transaction, [droppedEvent(view, dropCount, decision.reason, now)]);
          });
          metrics.dropped();
          transferLog.warn({ txHash: view.txHash, nonce: view.nonce.toString(), dropCount, reason: decision.reason }, 'transfer DROPPED by the node; the same signed transaction was sent again');
        } else if (result.kind === 'refused' && result.rejection !== 'nonce-too-low') {
          // Nonce too low means it was mined or replaced meanwhile: the next pass sees which.
          transferLog.error({ alert: true, txHash: view.txHash, reason: result.message }, 'dropped transfer: the node refused it when sent again');
        }
        return;
      }
      case 'missing':
        transferLog.debug({ txHash: view.txHash, unknownForMs: decision.unknownForMs }, 'broadcast transfer not known to the node right now');
        return;
    }
  }

  async function fail(connection: DatabasePoolConnection, row: TransferRow, refusal: string, reason: string): Promise<void> {
    const now = options.now();
    await emitIn(connection, [failedEvent(subjectOf(row), reason, now)], (transaction) => recordFailed(transaction, row.transfer_id, reason, now));
    metrics.refused(refusal);
    metrics.finished('failed');
    logOf(subjectOf(row)).error({ alert: true, refusal, reason, asset: row.asset, amountBaseUnits: row.amount_base_units.toString(), toAddress: row.to_address }, 'transfer FAILED before sending');
  }

  async function walletSnapshot(): Promise<{ snapshot: WalletSnapshot; minedNonce: bigint }> {
    // One block for every read, so the balances and the nonce that says which of our
    // transactions they include belong together.
    const block = (await chain(() => rpc.latestBlock())).number;
    const ethBalanceWei = await chain(() => rpc.balance(sender, block));
    const minedNonce = await chain(() => rpc.transactionCount(sender, block));
    const usdtBalanceBaseUnits = decodeBalanceOf(await chain(() => rpc.call({ to: options.usdtContractAddress, data: balanceOfCallData(sender) }, block)));
    return { snapshot: { ethBalanceWei, usdtBalanceBaseUnits, pendingEthWei: 0n, pendingUsdtBaseUnits: 0n }, minedNonce };
  }

  async function signRequested(connection: DatabasePoolConnection, row: TransferRow, fees: FeeChoice): Promise<void> {
    const call = transferCallOf(row.asset, row.to_address, row.amount_base_units, options.usdtContractAddress);
    const { snapshot: onChain, minedNonce } = await walletSnapshot();
    const pending = await pendingSpendOf(connection, sender, minedNonce);
    const snapshot: WalletSnapshot = { ...onChain, pendingEthWei: pending.ethWei, pendingUsdtBaseUnits: pending.usdtBaseUnits };

    // The token balance first: a token transfer the wallet cannot cover would also revert on
    // estimate, and "insufficient USDT" is the clearer reason.
    const tokenCheck = checkTokenFunding(row.asset, row.amount_base_units, snapshot);
    if (tokenCheck.kind === 'refused') {
      await fail(connection, row, tokenCheck.reason, tokenCheck.message);
      return;
    }

    let gasLimit = ethTransferGas;
    if (row.asset === 'USDT') {
      try {
        gasLimit = gasLimitWithHeadroom(await chain(() => rpc.estimateGas({ from: sender, to: call.to, data: call.data, value: call.value })));
      } catch (error) {
        if (error instanceof EvmRpcError && rejectionOf(error) === 'reverted') {
          await fail(connection, row, 'would_revert', `would revert: ${error.rpcMessage}`);
          return;
        }
        throw error;
      }
    }

    const funding = checkFunding({ asset: row.asset, amountBaseUnits: row.amount_base_units, gasLimit, maxFeePerGasWei: fees.maxFeePerGasWei }, snapshot);
    if (funding.kind === 'refused') {
      await fail(connection, row, funding.reason, funding.message);
      return;
    }

    const pendingNonce = await chain(() => rpc.transactionCount(sender, 'pending'));
    chainId ??= await chain(() => rpc.chainId());
    const knownChainId = chainId;
    const now = options.now();
    let signedHash = '';
    let signedNonce = 0n;
    await connection.transaction(async (transaction) => {
      const nextNonce = await lockNextNonce(transaction, sender, now);
      // The node may be ahead (the wallet was used elsewhere); our own record may be ahead (signed
      // transactions the node has not seen yet, or forgot). Never reuse either.
      const nonce = nextNonce > pendingNonce ? nextNonce : pendingNonce;
      const { maxFeePerGasWei, maxPriorityFeePerGasWei } = fees;
      const signed = await signer.sign({ chainId: knownChainId, nonce, call, gasLimit, maxFeePerGasWei, maxPriorityFeePerGasWei });
      await storeSigned(
        transaction,
        row.transfer_id,
        { senderAddress: sender, nonce, gasLimit, maxFeePerGasWei, maxPriorityFeePerGasWei, rawTransaction: signed.rawTransaction, txHash: signed.hash },
        now,
      );
      signedHash = signed.hash;
      signedNonce = nonce;
    });
    logOf(subjectOf(row)).info(
      { txHash: signedHash, nonce: signedNonce.toString(), gasLimit: gasLimit.toString(), maxFeePerGasWei: fees.maxFeePerGasWei.toString(), maxPriorityFeePerGasWei: fees.maxPriorityFeePerGasWei.toString() },
      'transfer signed and stored',
    );
    failpoint('chain.after-sign');
  }

  /** Runs one step for one transfer; an outage stops the pass, any other error only this transfer's step. */
  async function isolated(row: TransferRow, step: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (isRetriable(error) || error instanceof InvariantViolation) throw error;
      logOf(subjectOf(row)).error({ alert: true, err: error, step }, 'chain transfer step failed; the next pass tries again');
      await recordWaiting(pool, row.transfer_id, `${step} failed: ${error instanceof Error ? error.message : String(error)}`, options.now()).catch(() => undefined);
    }
  }

  async function signRequestedTransfers(connection: DatabasePoolConnection): Promise<void> {
    const requested = await loadOpenTransfers(connection, 'requested', transfersPerPassMax);
    if (requested.length === 0) return;
    // The requests are stored (committed) and nothing is signed yet.
    failpoint('chain.after-claim');
    const block = await chain(() => rpc.latestBlock());
    if (block.baseFeePerGasWei === null) throw new InvariantViolation('the chain reports no base fee: EIP-1559 transactions are required');
    const suggestedPriorityFeePerGasWei = await chain(() => rpc.maxPriorityFeePerGas());
    const fees = planFees({ baseFeePerGasWei: block.baseFeePerGasWei, suggestedPriorityFeePerGasWei }, settings.feeCaps);
    if (fees.kind === 'wait') {
      for (const row of requested) {
        // The reason carries the current fee, so it is rewritten as the fee moves; logged once.
        await recordWaiting(connection, row.transfer_id, fees.reason, options.now());
        if (row.waiting_reason?.startsWith(feeAboveCapPrefix) !== true) logOf(subjectOf(row)).warn({ reason: fees.reason }, 'transfer waits: fee above cap');
      }
      return;
    }
    for (const row of requested) await isolated(row, 'sign', () => signRequested(connection, row, fees));
    // Freshly signed transfers are sent in the same pass.
    for (const row of await loadOpenTransfers(connection, 'signed', transfersPerPassMax)) {
      await isolated(row, 'broadcast', () => broadcastSigned(connection, signedViewOf(row)));
    }
  }

  async function pass(connection: DatabasePoolConnection): Promise<void> {
    for (const row of await loadOpenTransfers(connection, 'signed', transfersPerPassMax)) {
      await isolated(row, 'broadcast', () => broadcastSigned(connection, signedViewOf(row)));
    }
    for (const row of await loadOpenTransfers(connection, 'broadcast', transfersPerPassMax)) {
      await isolated(row, 'watch', () => watchBroadcast(connection, signedViewOf(row)));
    }
    await signRequestedTransfers(connection);
  }

  return {
    runPass: () =>
      pool.connect(async (connection) => {
        const leader = await tryLockSender(connection, sender);
        metrics.leader(leader);
        if (!leader) return { leader: false };
        try {
          await pass(connection);
          const counts = await countOpenTransfers(connection);
          metrics.openTransfers(counts.byState, counts.waiting);
        } catch (error) {
          metrics.passFailed();
          throw error;
        } finally {
          await unlockSender(connection, sender);
        }
        return { leader: true };
      }),
  };
}

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
// - A replacement (a fee bump of the same payment, or a zero-value self-transfer that fills the
//   nonce of a payment the node refuses) is signed at the transfer's OWN nonce and stored, as an
//   attempt, before it is broadcast (replaceCurrent). The chain mines at most one transaction per
//   nonce, and the watcher asks about every stored attempt, so whichever is mined settles the
//   transfer, once.
//
// Why it never wedges: a refused or stuck transaction is replaced at its nonce instead of being
// offered again forever, and every pass first compares the node's nonces with the ledger's
// (nonce-check.ts): a node that lacks nonces the ledger used stops all sending, with an alert and a
// row in chain_nonce_status, instead of waiting in silence for nonces that never come.
//
// Order within a pass: check the nonces, send what is signed (lowest nonce first), watch what is
// broadcast, then sign new requests — so the balance check for a new transfer sees the outcome of
// the earlier ones.
import { eachAtMost } from '../../core/bounded-concurrency.ts';
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
import type { BatchAnswer, EvmRpc, TransactionReceipt } from './evm-rpc.ts';
import { feeAboveCapPrefix, planFees, planReplacementFees } from './fee-plan.ts';
import { checkFunding, checkTokenFunding, worstCaseEthOf, type WalletSnapshot } from './funding-check.ts';
import { decideNonceStatus, type NonceFacts, type NonceFinding } from './nonce-check.ts';
import { createPassProfile, profiledRpc, type PassProfile } from './pass-profile.ts';
import { ledgerNoncesOf, recordedGenesisOf, recordNonceStatus } from './nonce-status-store.ts';
import {
  countOpenTransfers,
  loadAttempts,
  loadAttemptsOf,
  loadOpenTransfers,
  lockNextNonce,
  pendingSpendOf,
  recordBroadcastAll,
  recordConfirmedAll,
  recordAttemptBroadcast,
  recordBroadcastAttempt,
  recordDropped,
  recordFailed,
  recordMinedOutcome,
  recordReplaced,
  recordSeen,
  recordSeenAll,
  recordWaiting,
  storeReplacement,
  storeSignedAll,
  type SignedFields,
  tryLockSender,
  unlockSender,
  type AttemptRow,
  type TransferRow,
} from './transfer-store.ts';
import {
  decideAfterNonceTooLow,
  decideBroadcast,
  decideWatch,
  isStuck,
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
  /** The pass took a full page of requests: more may be queued, so the next pass should not wait for the poll. */
  readonly moreQueued: boolean;
}

export interface ChainWorker {
  runPass(): Promise<PassSummary>;
  /** The last nonce comparison (null before the first pass): /ready reports one that stops sending. */
  nonceFinding(): NonceFinding | null;
}

/** How every "no replacement possible" waiting reason starts (logged once while it lasts). */
const replacementWaitPrefix = 'replacement waits:';

/** At most this many transfers per state are handled in one pass; the rest wait for the next. */
export const transfersPerPassMax = 100;

/** Node calls a pass has in flight at once (receipt lookups, gas estimates), so a pass of 100 is not 100 round trips in a row. */
const nodeCallsInFlightMax = 8;

/** A request that passed every check of its pass, to be signed with the rest. */
interface ApprovedTransfer {
  readonly row: TransferRow;
  readonly call: ReturnType<typeof transferCallOf>;
  readonly gasLimit: bigint;
}

/** A node call's answer, or the error it ended with (kept for the one transfer it concerns). */
type Answer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/** The value of an answered call; throws the error of one that failed (inside its transfer's step). */
function valueOf<T>(answers: ReadonlyMap<string, Answer<T>>, key: string): T {
  const answer = answers.get(key);
  if (answer === undefined) throw new InvariantViolation('every call of a batch has an answer', { key });
  if (!answer.ok) throw answer.error;
  return answer.value;
}

/** The node's gas estimate for a request, or why it gave none. */
type GasEstimate = { readonly ok: true; readonly estimate: bigint } | { readonly ok: false; readonly error: unknown };

interface FeeChoice {
  readonly maxFeePerGasWei: bigint;
  readonly maxPriorityFeePerGasWei: bigint;
}

interface SignedTransferView extends SignedSubject {
  readonly row: TransferRow;
  readonly rawTransaction: string;
  readonly lastSeenAt: Date | null;
}

/**
 * The common watch outcomes of a pass, written together after every transfer was looked at (a
 * transaction per confirmed transfer and a statement per pending one were most of a pass).
 */
interface WatchBatch {
  readonly confirmed: { view: SignedTransferView; mined: AttemptRow; receipt: ReceiptView; at: Date }[];
  readonly seen: { transferId: string; receipt: ReceiptView | null }[];
}

/** What the chain says about a transfer, and which of its transactions (if any) was mined. */
interface Observation {
  readonly chain: ChainView;
  readonly mined: AttemptRow | null;
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
  const { pool, signer, settings, log, metrics } = options;
  let profile: (PassProfile & { rpcCall(method: string, ms: number): void }) | null = null;
  const rpc = profiledRpc(options.rpc, () => profile);
  const phase = <T>(name: string, work: () => Promise<T>): Promise<T> => (profile === null ? work() : profile.phase(name, work));
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
  let lastNonceFinding: NonceFinding | null = null;

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

  function receiptViewOf(receipt: TransactionReceipt, row: TransferRow, cancel: boolean): ReceiptView {
    const succeeded = receipt.status === 1n;
    const delivered = cancel || row.asset === 'ETH' || (succeeded && hasTransferLog(receipt.logs, options.usdtContractAddress, sender, row.to_address, row.amount_base_units));
    return {
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      succeeded,
      delivered,
      gasUsed: receipt.gasUsed,
      effectiveGasPriceWei: receipt.effectiveGasPrice,
    };
  }

  /**
   * Mined nonce first, then the receipts, then the pool (see transfer-progress.ts for why) — over
   * EVERY transaction signed for the transfer: they share one nonce, so at most one is mined, and
   * any of them may be (a fee bump does not stop the node from mining the original).
   */
  async function observe(connection: DatabasePoolConnection, view: SignedTransferView): Promise<Observation> {
    const attempts = await loadAttempts(connection, view.transferId);
    assertInvariant(attempts.some((attempt) => attempt.tx_hash === view.txHash), 'the current transaction of a transfer is one of its attempts', { transferId: view.transferId });
    const minedNonce = await chain(() => rpc.transactionCount(sender, 'latest'));
    let receipt: TransactionReceipt | null = null;
    let mined: AttemptRow | null = null;
    for (const attempt of attempts) {
      receipt = await chain(() => rpc.transactionReceipt(attempt.tx_hash));
      if (receipt !== null) {
        mined = attempt;
        break;
      }
    }
    let knownToNode = receipt !== null;
    for (const attempt of attempts) {
      if (knownToNode) break;
      knownToNode = (await chain(() => rpc.transaction(attempt.tx_hash))) !== null;
    }
    const headBlock = (await chain(() => rpc.latestBlock())).number;
    const receiptView = receipt === null || mined === null ? null : receiptViewOf(receipt, view.row, mined.kind === 'cancel');
    return { chain: { minedNonce, receipt: receiptView, knownToNode, headBlock }, mined };
  }

  /**
   * observe() for every broadcast transfer of a pass at once: the wallet's mined nonce once, before
   * any receipt (the order observe() keeps, so "nonce used and no receipt of ours" still means
   * replaced), the receipts and pool lookups of all of them concurrently, and the head block once,
   * after every receipt (so no receipt is newer than the head it is counted against). One
   * observation per transfer, each failing alone.
   */
  async function observeAll(connection: DatabasePoolConnection, views: readonly SignedTransferView[]): Promise<(() => Observation)[]> {
    const attemptsOf = await loadAttemptsOf(connection, views.map((view) => view.transferId));
    const minedNonce = await chain(() => rpc.transactionCount(sender, 'latest'));
    // Every stored attempt's receipt in one batch, then (for the transfers none of whose attempts
    // was mined) whether the node knows them, in a second: the order observe() keeps per transfer.
    // Blocks here hold one transaction each (the node mines each as it arrives), so a lookup per
    // block would be no fewer calls; the batch saves the round trips instead. A call the batch got
    // no answer for is asked again alone, with the usual retries.
    const hashesOf = (view: SignedTransferView): string[] => (attemptsOf.get(view.transferId) ?? []).map((attempt) => attempt.tx_hash);
    const receipts = await answersOf(views.flatMap(hashesOf), (hashes) => rpc.transactionReceipts(hashes), (hash) => rpc.transactionReceipt(hash));
    const mined = (hash: string): boolean => {
      const answer = receipts.get(hash);
      return answer !== undefined && answer.ok && answer.value !== null;
    };
    const unmined = views.filter((view) => !hashesOf(view).some(mined));
    const known = await answersOf(unmined.flatMap(hashesOf), (hashes) => rpc.transactions(hashes), (hash) => rpc.transaction(hash));
    const lookups = views.map((view) => {
      try {
        const attempts = attemptsOf.get(view.transferId) ?? [];
        assertInvariant(attempts.some((attempt) => attempt.tx_hash === view.txHash), 'the current transaction of a transfer is one of its attempts', { transferId: view.transferId });
        let receipt: TransactionReceipt | null = null;
        let mined: AttemptRow | null = null;
        for (const attempt of attempts) {
          receipt = valueOf(receipts, attempt.tx_hash);
          if (receipt !== null) {
            mined = attempt;
            break;
          }
        }
        let knownToNode = receipt !== null;
        for (const attempt of attempts) {
          if (knownToNode) break;
          knownToNode = valueOf(known, attempt.tx_hash) !== null;
        }
        return { ok: true as const, receipt, mined, knownToNode };
      } catch (error) {
        return { ok: false as const, error };
      }
    });
    const headBlock = (await chain(() => rpc.latestBlock())).number;
    // Each observation throws its own lookup's error when the caller takes it (inside its transfer's step).
    return views.map((view, index) => () => {
      const lookup = lookups[index];
      if (lookup === undefined) throw new InvariantViolation('one lookup per broadcast transfer', { transferId: view.transferId });
      if (!lookup.ok) throw lookup.error;
      const { receipt, mined, knownToNode } = lookup;
      const receiptView = receipt === null || mined === null ? null : receiptViewOf(receipt, view.row, mined.kind === 'cancel');
      return { chain: { minedNonce, receipt: receiptView, knownToNode, headBlock }, mined };
    });
  }

  /**
   * One batch of calls keyed by their argument; a call the batch left unanswered (EvmUnavailableError:
   * no answer, outcome unknown) is made again alone with the retries of chain(). Each answer, or the
   * error that call ends with, is kept for its own transfer.
   */
  async function answersOf<T>(keys: readonly string[], batch: (keys: readonly string[]) => Promise<BatchAnswer<T>[]>, alone: (key: string) => Promise<T>): Promise<Map<string, Answer<T>>> {
    const unique = [...new Set(keys)];
    const answers = new Map<string, Answer<T>>();
    const unanswered: string[] = [];
    for (const [index, answer] of (await batch(unique)).entries()) {
      const key = unique[index];
      if (key === undefined) continue;
      if (answer.ok || !(answer.error instanceof EvmUnavailableError)) answers.set(key, answer);
      else unanswered.push(key);
    }
    await eachAtMost(nodeCallsInFlightMax, unanswered, async (key) => {
      try {
        answers.set(key, { ok: true, value: await chain(() => alone(key)) });
      } catch (error) {
        answers.set(key, { ok: false, error });
      }
    });
    return answers;
  }

  /**
   * What the node said to a transaction sent in a batch; a call the batch got no answer for is
   * sent again alone (send): the same stored bytes, so at worst the node answers "known".
   */
  async function sentInBatch(answer: BatchAnswer<string> | undefined, rawTransaction: string, txHash: string): Promise<BroadcastResult> {
    if (answer === undefined) return send(rawTransaction, txHash);
    if (!answer.ok) {
      const { error } = answer;
      return error instanceof EvmRpcError ? { kind: 'refused', rejection: rejectionOf(error), message: error.rpcMessage } : send(rawTransaction, txHash);
    }
    assertInvariant(answer.value.toLowerCase() === txHash.toLowerCase(), 'the node hashes our stored transaction to its stored hash', { hash: answer.value, txHash });
    return { kind: 'accepted' };
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

  type BroadcastOutcome = 'accepted' | 'already_known' | 'mined_earlier';

  /**
   * Records every transfer the node took in this pass as broadcast, with its event, in ONE
   * transaction (a commit per transfer was a third of a transfer's cost). Sent but not yet
   * recorded is the same window as before, only wider: killed inside it, the transfers are still
   * `signed`, and the next pass sends the same stored bytes again ("known" or "nonce too low",
   * both resolved by asking the chain) — never a new signature.
   */
  async function markBroadcastAll(connection: DatabasePoolConnection, taken: readonly { view: SignedTransferView; outcome: BroadcastOutcome }[]): Promise<void> {
    if (taken.length === 0) return;
    const now = options.now();
    await connection.transaction(async (transaction) => {
      await recordBroadcastAll(transaction, taken.map(({ view }) => view.transferId), now);
      await insertOutboxRecords(transaction, taken.map(({ view }) => broadcastEvent(view, now)));
    });
    profile?.count('broadcast', taken.length);
    for (const { view, outcome } of taken) {
      metrics.broadcast(outcome);
      logOf(view).info({ txHash: view.txHash, nonce: view.nonce.toString(), outcome }, 'transfer broadcast');
    }
    failpoint('chain.after-broadcast');
  }

  async function markReplaced(connection: DatabasePoolConnection, view: SignedTransferView, reason: string): Promise<void> {
    const now = options.now();
    await emitIn(connection, [replacedEvent(view, reason, now)], (transaction) => recordReplaced(transaction, view.transferId, reason, now));
    metrics.finished('replaced');
    logOf(view).error({ alert: true, txHash: view.txHash, nonce: view.nonce.toString(), reason }, 'transfer REPLACED: its nonce was used by another transaction');
  }

  /** Our own zero-value self-transfer was mined at the payment's nonce: the payment was never sent. */
  async function markCancelled(connection: DatabasePoolConnection, view: SignedTransferView, cancel: AttemptRow, receipt: ReceiptView): Promise<void> {
    const reason = `the payment was not sent: ${cancel.reason}; nonce ${view.nonce} was filled by the zero-value self-transfer ${cancel.tx_hash} (block ${receipt.blockNumber})`;
    await markReplaced(connection, { ...view, txHash: cancel.tx_hash }, reason);
  }

  /**
   * Signs a replacement of the transfer's current transaction at the SAME nonce and stores it as
   * the current one; the next pass broadcasts it (state signed: broadcastSigned; state broadcast:
   * watchBroadcast sends a current transaction never broadcast).
   *
   * Why this never sends a payment twice: every transaction of a transfer carries the transfer's one
   * nonce, so the chain mines at most one of them, and a fee bump is the same payment (same
   * recipient, value and data, checked on the signed bytes by the signer). A cancel moves nothing.
   * Why nothing is lost across a SIGKILL: the replacement is committed (with its hash) BEFORE it is
   * broadcast. Killed after signing and before storing, the bytes die with the process, never sent;
   * killed after storing and before broadcasting, the next pass sends those stored bytes. Either
   * way the watcher asks the chain about every stored hash, so whichever one is mined is found.
   */
  async function replaceCurrent(connection: DatabasePoolConnection, view: SignedTransferView, replacement: 'fee_bump' | 'cancel', reason: string): Promise<void> {
    const { row } = view;
    const { gas_limit: gasLimitBefore, max_fee_per_gas_wei: maxFeeBefore, max_priority_fee_per_gas_wei: tipBefore } = row;
    assertInvariant(gasLimitBefore !== null && maxFeeBefore !== null && tipBefore !== null, 'a signed transfer has its gas and fees', { transferId: row.transfer_id });
    // Once a payment was given up for a cancel, only cancels follow: it is never signed again.
    const kind = row.attempt_kind === 'cancel' ? 'cancel' : replacement;
    const block = await chain(() => rpc.latestBlock());
    if (block.baseFeePerGasWei === null) throw new InvariantViolation('the chain reports no base fee: EIP-1559 transactions are required');
    // A replacement follows a refusal "below the base fee" or a stuck transaction: plan on the next
    // block's base fee where the node tells it (its pending block), not only the last one's, or
    // each replacement would again be too low and only climb by the 10 % steps.
    const pendingBaseFee = await chain(() => rpc.pendingBaseFeePerGas()).catch((error: unknown) => {
      if (error instanceof EvmRpcError) return null;
      throw error;
    });
    const baseFeePerGasWei = pendingBaseFee !== null && pendingBaseFee > block.baseFeePerGasWei ? pendingBaseFee : block.baseFeePerGasWei;
    const suggestedPriorityFeePerGasWei = await chain(() => rpc.maxPriorityFeePerGas());
    const fees = planReplacementFees(
      { maxFeePerGasWei: maxFeeBefore, maxPriorityFeePerGasWei: tipBefore },
      { baseFeePerGasWei, suggestedPriorityFeePerGasWei },
      settings.feeCaps,
    );
    const now = options.now();
    if (fees.kind === 'wait') {
      const waiting = `${replacementWaitPrefix} ${reason}; ${fees.reason}`;
      await recordWaiting(connection, view.transferId, waiting, now);
      if (row.waiting_reason?.startsWith(replacementWaitPrefix) !== true) {
        logOf(view).error({ alert: true, txHash: view.txHash, nonce: view.nonce.toString(), reason: waiting }, 'transfer cannot be replaced within the fee caps; its nonce holds later transfers back');
      }
      return;
    }
    const call = kind === 'cancel' ? { to: sender, value: 0n, data: '0x' } : transferCallOf(row.asset, row.to_address, row.amount_base_units, options.usdtContractAddress);
    const gasLimit = kind === 'cancel' ? ethTransferGas : gasLimitBefore;
    chainId ??= await chain(() => rpc.chainId());
    const { maxFeePerGasWei, maxPriorityFeePerGasWei } = fees;
    const signed = await signer.sign({ chainId, nonce: view.nonce, call, gasLimit, maxFeePerGasWei, maxPriorityFeePerGasWei });
    failpoint('chain.after-sign-replacement');
    let attempt = 0;
    await connection.transaction(async (transaction) => {
      attempt = await storeReplacement(
        transaction,
        view.transferId,
        view.txHash,
        kind,
        { senderAddress: sender, nonce: view.nonce, gasLimit, maxFeePerGasWei, maxPriorityFeePerGasWei, rawTransaction: signed.rawTransaction, txHash: signed.hash },
        reason,
        now,
      );
    });
    metrics.replaced(kind);
    const fields = {
      txHash: signed.hash,
      replacedTxHash: view.txHash,
      nonce: view.nonce.toString(),
      attempt,
      kind,
      maxFeePerGasWei: maxFeePerGasWei.toString(),
      maxPriorityFeePerGasWei: maxPriorityFeePerGasWei.toString(),
      reason,
    };
    if (kind === 'cancel') logOf(view).error({ alert: true, ...fields }, 'transfer refused by the node: a zero-value self-transfer fills its nonce');
    else logOf(view).warn(fields, 'transfer replaced by the same payment at a higher fee');
    failpoint('chain.after-store-replacement');
  }

  /**
   * Sends every signed transfer as a JSON-RPC batch in nonce order (sendInNonceOrder), then decides
   * on each answer in nonce order and records those the node took together. At most once still
   * holds: a batch carries only bytes loaded from chain_transfers, each signed and committed
   * (signAndStore) before any of them is sent, so a crash anywhere around a batch leaves stored
   * bytes that the next pass sends again unchanged — the same hashes, never a new signature. A
   * transaction the batches got no answer for is sent again alone, as before.
   */
  async function broadcastSignedTransfers(connection: DatabasePoolConnection): Promise<void> {
    const taken: { view: SignedTransferView; outcome: BroadcastOutcome }[] = [];
    try {
      const rows = await loadOpenTransfers(connection, 'signed', transfersPerPassMax);
      const views = rows.map(signedViewOf);
      const answers = await sendInNonceOrder(views);
      for (const [index, view] of views.entries()) {
        await isolated(view.row, 'broadcast', () => broadcastSigned(connection, view, answers[index], (taker, outcome) => taken.push({ view: taker, outcome })));
      }
    } finally {
      // Also when an outage stops the pass: what the node took is recorded now, not re-sent later.
      await markBroadcastAll(connection, taken);
    }
  }

  /**
   * The page's stored transactions as one batch, lowest nonce first. A node may run a batch's calls
   * concurrently (the local Hardhat node does: in a mass payout about two thirds of a first batch
   * came back "nonce too high", a later nonce having reached it before an earlier one), so the ones
   * refused "nonce too high" are sent again — the same bytes — as a further batch, for as long as
   * the last one had a call accepted. A real gap (the node lacks an earlier nonce) ends it at once:
   * that batch accepts nothing, and its refusals go to decideBroadcast as a lone send's would.
   */
  async function sendInNonceOrder(views: readonly SignedTransferView[]): Promise<(BatchAnswer<string> | undefined)[]> {
    const answers: (BatchAnswer<string> | undefined)[] = views.map(() => undefined);
    let unsent = views.map((view, index) => ({ view, index }));
    while (unsent.length > 0) {
      const batch = await rpc.sendRawTransactions(unsent.map(({ view }) => view.rawTransaction));
      const tooHigh: typeof unsent = [];
      let accepted = false;
      for (const [position, item] of unsent.entries()) {
        const answer = batch[position];
        answers[item.index] = answer;
        if (answer?.ok === true) accepted = true;
        else if (answer !== undefined && !answer.ok && answer.error instanceof EvmRpcError && rejectionOf(answer.error) === 'nonce-too-high') tooHigh.push(item);
      }
      if (!accepted) break;
      unsent = tooHigh;
    }
    return answers;
  }

  async function broadcastSigned(
    connection: DatabasePoolConnection,
    view: SignedTransferView,
    answer: BatchAnswer<string> | undefined,
    taken: (view: SignedTransferView, outcome: BroadcastOutcome) => void,
  ): Promise<void> {
    const result = await sentInBatch(answer, view.rawTransaction, view.txHash);
    let decision = decideBroadcast(result);
    if (decision.kind === 'look-at-chain') {
      const afterNonceTooLow = decideAfterNonceTooLow(view.nonce, (await observe(connection, view)).chain);
      if (afterNonceTooLow.kind === 'replaced') {
        await markReplaced(connection, view, afterNonceTooLow.reason);
        return;
      }
      if (afterNonceTooLow.kind === 'broadcast') {
        taken(view, 'mined_earlier');
        return;
      }
      decision = afterNonceTooLow;
    }
    if (decision.kind === 'broadcast') {
      taken(view, result.kind === 'accepted' ? 'accepted' : 'already_known');
      return;
    }
    metrics.broadcast(result.kind === 'unclear' ? 'unclear' : 'refused');
    if (decision.kind === 'replace' && !(decision.replacement === 'cancel' && view.row.attempt_kind === 'cancel')) {
      await recordBroadcastAttempt(connection, view.transferId, decision.reason, options.now());
      await replaceCurrent(connection, view, decision.replacement, decision.reason);
      return;
    }
    // A cancel the node refuses as well (the wallet cannot even pay its gas): nothing cheaper
    // exists, so the same bytes are offered again, with an alert.
    const retry = decision.kind === 'replace' ? { reason: `${decision.reason}; the self-transfer itself was refused`, alert: true } : decision;
    await recordBroadcastAttempt(connection, view.transferId, retry.reason, options.now());
    // Said once per reason, not on every poll while it lasts.
    if (view.row.waiting_reason === retry.reason) return;
    if (retry.alert) logOf(view).error({ alert: true, txHash: view.txHash, nonce: view.nonce.toString(), reason: retry.reason }, 'signed transfer not accepted by the node; later nonces wait behind it');
    else logOf(view).warn({ txHash: view.txHash, nonce: view.nonce.toString(), reason: retry.reason }, 'signed transfer not broadcast yet; the same bytes are sent again');
  }

  /** A replacement stored but never broadcast (a crash in between, or the pass that stored it). */
  async function broadcastStoredReplacement(connection: DatabasePoolConnection, view: SignedTransferView): Promise<void> {
    const result = await send(view.rawTransaction, view.txHash);
    const decision = decideBroadcast(result);
    if (decision.kind === 'broadcast') {
      await recordAttemptBroadcast(connection, view.txHash, options.now());
      metrics.broadcast(result.kind === 'accepted' ? 'accepted' : 'already_known');
      logOf(view).info({ txHash: view.txHash, nonce: view.nonce.toString(), kind: view.row.attempt_kind }, 'replacement broadcast');
      return;
    }
    metrics.broadcast(result.kind === 'unclear' ? 'unclear' : 'refused');
    if (decision.kind === 'look-at-chain') {
      // The nonce is used: by one of our transactions (the watcher finds which) or another one.
      await watchMined(connection, view, await observe(connection, view));
      return;
    }
    const reason = `replacement not broadcast: ${decision.reason}`;
    await recordBroadcastAttempt(connection, view.transferId, reason, options.now());
    if (decision.kind === 'replace' && decision.replacement === 'fee_bump') {
      await replaceCurrent(connection, view, 'fee_bump', decision.reason);
      return;
    }
    if (view.row.waiting_reason !== reason) logOf(view).error({ alert: true, txHash: view.txHash, nonce: view.nonce.toString(), reason }, 'replacement not accepted by the node; the earlier transaction may still be mined');
  }

  async function watchBroadcast(connection: DatabasePoolConnection, view: SignedTransferView): Promise<void> {
    if (view.row.attempt_broadcast_at === null) {
      await broadcastStoredReplacement(connection, view);
      return;
    }
    await watchMined(connection, view, await observe(connection, view));
  }

  /** A confirmed transfer's state change and its event, with the log line and metrics after the commit. */
  function confirmedRecords(item: WatchBatch['confirmed'][number]): OutboxRecord {
    return confirmedEvent({ ...item.view, txHash: item.mined.tx_hash }, item.receipt, item.at);
  }

  function afterConfirmed(item: WatchBatch['confirmed'][number]): void {
    const { view, mined, receipt, at } = item;
    metrics.finished('confirmed');
    metrics.confirmedAfter((at.getTime() - view.row.received_at.getTime()) / 1_000);
    logOf(view).info(
      {
        txHash: mined.tx_hash,
        attempt: mined.attempt,
        blockNumber: receipt.blockNumber.toString(),
        gasUsed: receipt.gasUsed.toString(),
        effectiveGasPriceWei: receipt.effectiveGasPriceWei.toString(),
      },
      'transfer confirmed',
    );
  }

  /**
   * Writes a pass's confirmations in ONE transaction — each transfer's state change with its
   * CONFIRMED event, as emitIn does for one, so none is ever recorded without its event — and the
   * pending ones' last sighting in one statement. A batch the database refuses is written again
   * transfer by transfer, so one bad row does not hold the others.
   */
  async function flushWatchBatch(connection: DatabasePoolConnection, batch: WatchBatch): Promise<void> {
    if (batch.confirmed.length > 0) {
      try {
        await connection.transaction(async (transaction) => {
          await recordConfirmedAll(
            transaction,
            batch.confirmed.map((item) => ({ transferId: item.view.transferId, minedHash: item.mined.tx_hash, receipt: item.receipt })),
            options.now(),
          );
          await insertOutboxRecords(transaction, batch.confirmed.map(confirmedRecords));
        });
        for (const item of batch.confirmed) afterConfirmed(item);
      } catch (error) {
        if (isRetriable(error) || error instanceof InvariantViolation) throw error;
        log.warn({ err: error, transfers: batch.confirmed.length }, 'recording the pass confirmations in one transaction failed; recording each alone');
        for (const item of batch.confirmed) {
          await isolated(item.view.row, 'watch', async () => {
            await emitIn(connection, [confirmedRecords(item)], (transaction) => recordMinedOutcome(transaction, item.view.transferId, 'confirmed', item.mined.tx_hash, item.receipt, null, item.at));
            afterConfirmed(item);
          });
        }
      }
    }
    await recordSeenAll(connection, batch.seen, options.now());
  }

  async function watchMined(connection: DatabasePoolConnection, view: SignedTransferView, observation: Observation, batch?: WatchBatch): Promise<void> {
    assertInvariant(view.lastSeenAt !== null, 'a broadcast transfer has been seen', { transferId: view.transferId });
    const now = options.now();
    const decision = decideWatch({ nonce: view.nonce, lastSeenAt: view.lastSeenAt }, observation.chain, settings, now);
    const transferLog = logOf(view);
    const { mined } = observation;
    switch (decision.kind) {
      case 'confirmed':
      case 'reverted': {
        assertInvariant(mined !== null, 'a mined transfer has the attempt that was mined', { transferId: view.transferId });
        if (mined.kind === 'cancel') {
          await markCancelled(connection, view, mined, decision.receipt);
          return;
        }
        const minedView = { ...view, txHash: mined.tx_hash };
        if (decision.kind === 'confirmed' && batch !== undefined) {
          batch.confirmed.push({ view, mined, receipt: decision.receipt, at: now });
          return;
        }
        if (decision.kind === 'confirmed') {
          await emitIn(connection, [confirmedEvent(minedView, decision.receipt, now)], (transaction) =>
            recordMinedOutcome(transaction, view.transferId, 'confirmed', mined.tx_hash, decision.receipt, null, now),
          );
          metrics.finished('confirmed');
          metrics.confirmedAfter((now.getTime() - view.row.received_at.getTime()) / 1_000);
          transferLog.info(
            {
              txHash: mined.tx_hash,
              attempt: mined.attempt,
              blockNumber: decision.receipt.blockNumber.toString(),
              gasUsed: decision.receipt.gasUsed.toString(),
              effectiveGasPriceWei: decision.receipt.effectiveGasPriceWei.toString(),
            },
            'transfer confirmed',
          );
          return;
        }
        await emitIn(connection, [revertedEvent(minedView, decision.receipt, decision.reason, now)], (transaction) =>
          recordMinedOutcome(transaction, view.transferId, 'reverted', mined.tx_hash, decision.receipt, decision.reason, now),
        );
        metrics.finished('reverted');
        transferLog.error({ alert: true, txHash: mined.tx_hash, reason: decision.reason }, 'transfer REVERTED on chain');
        return;
      }
      case 'mined':
        // Also clears a block recorded before a reorganisation moved the transaction back to the pool.
        if (batch !== undefined) batch.seen.push({ transferId: view.transferId, receipt: decision.receipt });
        else await recordSeen(connection, view.transferId, decision.receipt, now);
        return;
      case 'pending': {
        const broadcastAt = view.row.attempt_broadcast_at;
        const stuck = broadcastAt !== null && isStuck(broadcastAt, now, settings.stuckAfterMs);
        // A stuck one is written at once: its replacement may record a waiting reason after it.
        if (batch !== undefined && !stuck) {
          batch.seen.push({ transferId: view.transferId, receipt: null });
          return;
        }
        await recordSeen(connection, view.transferId, null, now);
        if (broadcastAt !== null && stuck) {
          const pendingSeconds = Math.round((now.getTime() - broadcastAt.getTime()) / 1_000);
          await replaceCurrent(connection, view, 'fee_bump', `pending for ${pendingSeconds} s (CHAIN_STUCK_AFTER ${Math.round(settings.stuckAfterMs / 1_000)} s) at max fee ${view.row.max_fee_per_gas_wei} wei`);
        }
        return;
      }
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

  /**
   * The checks before signing one request, against the pass's wallet snapshot and what the pass
   * already approved (`pending`, counted in memory: the same sums pendingSpendOf would read back).
   * A refusal is recorded (failed, with its event) here; an approved transfer is signed later,
   * with the rest of the pass, in one transaction.
   */
  async function approveRequested(connection: DatabasePoolConnection, row: TransferRow, fees: FeeChoice, wallet: WalletSnapshot, estimated: GasEstimate): Promise<ApprovedTransfer | null> {
    const call = transferCallOf(row.asset, row.to_address, row.amount_base_units, options.usdtContractAddress);

    // The token balance first: a token transfer the wallet cannot cover would also revert on
    // estimate, and "insufficient USDT" is the clearer reason.
    const tokenCheck = checkTokenFunding(row.asset, row.amount_base_units, wallet);
    if (tokenCheck.kind === 'refused') {
      await fail(connection, row, tokenCheck.reason, tokenCheck.message);
      return null;
    }

    // The funds for the least gas a transfer can take, before the estimate counts: a node
    // estimates a value the wallet cannot pay as an error ("not enough funds"), not as a number.
    const lowerBound = checkFunding({ asset: row.asset, amountBaseUnits: row.amount_base_units, gasLimit: ethTransferGas, maxFeePerGasWei: fees.maxFeePerGasWei }, wallet);
    if (lowerBound.kind === 'refused') {
      await fail(connection, row, lowerBound.reason, lowerBound.message);
      return null;
    }

    // ETH too is estimated: a contract wallet's receive code may need more than a plain 21,000.
    if (!estimated.ok) {
      const { error } = estimated;
      if (error instanceof EvmRpcError && rejectionOf(error) === 'reverted') {
        await fail(connection, row, 'would_revert', `would revert: ${error.rpcMessage}`);
        return null;
      }
      throw error;
    }
    const { estimate } = estimated;
    const gasLimit = estimate === ethTransferGas && row.asset === 'ETH' ? ethTransferGas : gasLimitWithHeadroom(estimate);
    if (gasLimit > settings.gasLimitMax) {
      await fail(
        connection,
        row,
        'gas_above_cap',
        `gas above cap: the transfer needs a gas limit of ${gasLimit} (node estimate ${estimate} + 20 % headroom), above CHAIN_GAS_LIMIT_MAX ${settings.gasLimitMax}`,
      );
      return null;
    }

    const funding = checkFunding({ asset: row.asset, amountBaseUnits: row.amount_base_units, gasLimit, maxFeePerGasWei: fees.maxFeePerGasWei }, wallet);
    if (funding.kind === 'refused') {
      await fail(connection, row, funding.reason, funding.message);
      return null;
    }
    return { row, call, gasLimit };
  }

  /**
   * Allocates consecutive nonces to the approved transfers, signs each, and stores every signed
   * transaction with its hash in ONE transaction that commits before any of them is broadcast: the
   * nonce allocation and the stored bytes commit together, or none of them does (and nothing was
   * sent). Killed after the commit, the next pass broadcasts the stored bytes; killed before, the
   * signatures die with the process, never sent.
   */
  async function signAndStore(connection: DatabasePoolConnection, approved: readonly ApprovedTransfer[], fees: FeeChoice, pendingNonce: bigint): Promise<void> {
    chainId ??= await chain(() => rpc.chainId());
    const knownChainId = chainId;
    const now = options.now();
    const { maxFeePerGasWei, maxPriorityFeePerGasWei } = fees;
    const signed: { row: TransferRow; gasLimit: bigint; hash: string; nonce: bigint }[] = [];
    await connection.transaction(async (transaction) => {
      signed.length = 0;
      // The sender's row stays locked (FOR UPDATE) until the commit; the page takes the nonces after
      // it, one each, consecutive, and stores them with their signed bytes in the same transaction.
      const nextNonce = await lockNextNonce(transaction, sender, now);
      // The node may be ahead (the wallet was used elsewhere); our own record may be ahead (signed
      // transactions the node has not seen yet, or forgot). Never reuse either.
      const firstNonce = nextNonce > pendingNonce ? nextNonce : pendingNonce;
      const stored: { transferId: string; fields: SignedFields }[] = [];
      for (const [index, { row, call, gasLimit }] of approved.entries()) {
        const nonce = firstNonce + BigInt(index);
        const transfer = await signer.sign({ chainId: knownChainId, nonce, call, gasLimit, maxFeePerGasWei, maxPriorityFeePerGasWei });
        stored.push({
          transferId: row.transfer_id,
          fields: { senderAddress: sender, nonce, gasLimit, maxFeePerGasWei, maxPriorityFeePerGasWei, rawTransaction: transfer.rawTransaction, txHash: transfer.hash },
        });
        signed.push({ row, gasLimit, hash: transfer.hash, nonce });
      }
      await storeSignedAll(transaction, stored, now);
    });
    for (const { row, gasLimit, hash, nonce } of signed) {
      logOf(subjectOf(row)).info(
        { txHash: hash, nonce: nonce.toString(), gasLimit: gasLimit.toString(), maxFeePerGasWei: maxFeePerGasWei.toString(), maxPriorityFeePerGasWei: maxPriorityFeePerGasWei.toString() },
        'transfer signed and stored',
      );
    }
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

  /** Resolves to true when it took a full page of requests: more may be waiting. */
  async function signRequestedTransfers(connection: DatabasePoolConnection): Promise<boolean> {
    const requested = await phase('sign.load', () => loadOpenTransfers(connection, 'requested', transfersPerPassMax));
    if (requested.length === 0) return false;
    profile?.count('requested', requested.length);
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
      return false;
    }
    // One wallet snapshot per pass, not per transfer (four node round trips each time): the pass
    // holds the sender lock and broadcasts only after signing, so nothing of ours is sent
    // meanwhile. The spends of transfers signed before this pass are read once (pendingSpendOf,
    // every transfer at or above the snapshot's mined nonce); those this pass approves are added
    // in memory as it goes — the balance and the pending spends still describe the same moment.
    const { snapshot, minedNonce } = await walletSnapshot();
    const before = await pendingSpendOf(connection, sender, minedNonce);
    let wallet: WalletSnapshot = { ...snapshot, pendingEthWei: before.ethWei, pendingUsdtBaseUnits: before.usdtBaseUnits };
    // Every estimate of the pass at once, against the same mined state each was asked on one by
    // one before (nothing of ours is broadcast while the pass signs); an error is kept for its
    // transfer's checks below.
    const callOf = (row: TransferRow): ReturnType<typeof transferCallOf> => transferCallOf(row.asset, row.to_address, row.amount_base_units, options.usdtContractAddress);
    const estimates = await phase('sign.estimate', async () => {
      // One batch for the page; a request it got no answer for is estimated again alone.
      const batch = await rpc.estimateGasAll(requested.map((row) => ({ from: sender, ...callOf(row) })));
      return eachAtMost(nodeCallsInFlightMax, requested.map((row, index) => ({ row, answer: batch[index] })), async ({ row, answer }): Promise<GasEstimate> => {
        if (answer !== undefined && (answer.ok || !(answer.error instanceof EvmUnavailableError))) return answer.ok ? { ok: true, estimate: answer.value } : { ok: false, error: answer.error };
        const call = callOf(row);
        try {
          return { ok: true, estimate: await chain(() => rpc.estimateGas({ from: sender, to: call.to, data: call.data, value: call.value })) };
        } catch (error) {
          return { ok: false, error };
        }
      });
    });
    const approved: ApprovedTransfer[] = [];
    let refused = 0;
    for (const [index, row] of requested.entries()) {
      const estimated = estimates[index];
      if (estimated === undefined) continue;
      await isolated(row, 'sign', async () => {
        const transfer = await approveRequested(connection, row, fees, wallet, estimated);
        if (transfer === null) {
          refused += 1;
          return;
        }
        approved.push(transfer);
        wallet = {
          ...wallet,
          pendingEthWei: wallet.pendingEthWei + worstCaseEthOf({ asset: row.asset, amountBaseUnits: row.amount_base_units, gasLimit: transfer.gasLimit, maxFeePerGasWei: fees.maxFeePerGasWei }),
          pendingUsdtBaseUnits: wallet.pendingUsdtBaseUnits + (row.asset === 'USDT' ? row.amount_base_units : 0n),
        };
      });
    }
    // Every request of the page left `requested` (signed in one transaction, or refused): only then
    // may the caller run the next pass at once — a page that did not move waits for the poll.
    let pageMoved = refused + approved.length === requested.length;
    if (approved.length > 0) {
      const pendingNonce = await chain(() => rpc.transactionCount(sender, 'pending'));
      try {
        await phase('sign.store', () => signAndStore(connection, approved, fees, pendingNonce));
      } catch (error) {
        pageMoved = false;
        if (isRetriable(error) || error instanceof InvariantViolation) throw error;
        // One transfer the batch cannot store must not hold the others: each alone, as its own step.
        log.warn({ err: error, transfers: approved.length }, 'signing the pass in one transaction failed; signing each transfer alone');
        for (const transfer of approved) await isolated(transfer.row, 'sign', () => signAndStore(connection, [transfer], fees, pendingNonce));
      }
    }
    // Freshly signed transfers are sent in the same pass.
    await phase('broadcast', () => broadcastSignedTransfers(connection));
    return pageMoved && requested.length === transfersPerPassMax;
  }

  /**
   * Compares the ledger's nonces with the node's (nonce-check.ts), records the result for the
   * reconciliation (chain_nonce_status) and the metrics, and alerts when it changes.
   */
  async function checkNonces(connection: DatabasePoolConnection): Promise<NonceFinding> {
    chainId ??= await chain(() => rpc.chainId());
    const nodeGenesisHash = await chain(() => rpc.genesisBlockHash());
    const nodeMinedNonce = await chain(() => rpc.transactionCount(sender, 'latest'));
    const nodePendingNonce = await chain(() => rpc.transactionCount(sender, 'pending'));
    const now = options.now();
    const recordedGenesisHash = await recordedGenesisOf(connection, chainId, nodeGenesisHash, now);
    // Read under the sender lock: no other pass changes the ledger's nonces meanwhile.
    const ledger = await ledgerNoncesOf(connection, sender);
    const facts: NonceFacts = {
      ledgerKnowsSender: ledger.knowsSender,
      ledgerNextNonce: ledger.nextNonce,
      ledgerOpenNonce: ledger.openNonce,
      nodeMinedNonce,
      nodePendingNonce,
      recordedGenesisHash,
      nodeGenesisHash,
    };
    const finding = decideNonceStatus(facts);
    const previous = await recordNonceStatus(connection, sender, facts, finding, now);
    metrics.nonceGap(finding.status, finding.gap);
    if (previous !== finding.status) {
      const fields = {
        senderAddress: sender,
        status: finding.status,
        gap: finding.gap.toString(),
        ledgerNextNonce: ledger.nextNonce.toString(),
        ledgerOpenNonce: ledger.openNonce?.toString() ?? null,
        nodeMinedNonce: nodeMinedNonce.toString(),
        nodePendingNonce: nodePendingNonce.toString(),
      };
      if (finding.status === 'in_step') {
        if (previous !== null) log.info(fields, 'host wallet nonce back in step with the node');
      } else {
        log.error({ alert: true, ...fields, reason: finding.reason }, `host wallet nonce gap: ${finding.status}`);
      }
    }
    lastNonceFinding = finding;
    return finding;
  }

  /** While the node and the ledger disagree on used nonces, every open transfer says why it waits. */
  async function holdOpenTransfers(connection: DatabasePoolConnection, reason: string): Promise<void> {
    for (const state of ['requested', 'signed', 'broadcast'] as const) {
      for (const row of await loadOpenTransfers(connection, state, transfersPerPassMax)) {
        await recordWaiting(connection, row.transfer_id, `nonce gap: ${reason}`, options.now());
      }
    }
  }

  /** Resolves to true when the pass took a full page of requests (more may be queued). */
  async function pass(connection: DatabasePoolConnection): Promise<boolean> {
    const finding = await phase('nonces', () => checkNonces(connection));
    if (finding.blocksSending) {
      // Nothing is signed, broadcast, re-broadcast or replaced: on a node that lacks the ledger's
      // nonces every transaction would wait forever, or land on another chain.
      await holdOpenTransfers(connection, finding.reason ?? finding.status);
      return false;
    }
    await phase('broadcast', () => broadcastSignedTransfers(connection));
    const broadcast = await phase('watch.load', () => loadOpenTransfers(connection, 'broadcast', transfersPerPassMax));
    // A replacement stored but never broadcast is sent first, alone (broadcastStoredReplacement);
    // every other broadcast transfer is observed together with the rest of the pass.
    const unsent = broadcast.filter((row) => row.attempt_broadcast_at === null);
    const watched = broadcast.filter((row) => row.attempt_broadcast_at !== null).map(signedViewOf);
    profile?.count('watched', broadcast.length);
    for (const row of unsent) await isolated(row, 'watch', () => watchBroadcast(connection, signedViewOf(row)));
    const observations = await phase('watch.observe', () => observeAll(connection, watched));
    await phase('watch.record', async () => {
      const batch: WatchBatch = { confirmed: [], seen: [] };
      for (const [index, view] of watched.entries()) {
        const observation = observations[index];
        if (observation !== undefined) await isolated(view.row, 'watch', () => watchMined(connection, view, observation(), batch));
      }
      await flushWatchBatch(connection, batch);
    });
    return signRequestedTransfers(connection);
  }

  return {
    runPass: () =>
      pool.connect(async (connection) => {
        const leader = await tryLockSender(connection, sender);
        metrics.leader(leader);
        if (!leader) return { leader: false, moreQueued: false };
        let moreQueued = false;
        profile = createPassProfile();
        try {
          moreQueued = await pass(connection);
          const counts = await phase('count', () => countOpenTransfers(connection));
          metrics.openTransfers(counts.byState, counts.waiting);
        } catch (error) {
          metrics.passFailed();
          throw error;
        } finally {
          await unlockSender(connection, sender);
          const summary = profile.summary();
          profile = null;
          // Only a pass that had something to do: an idle poll every CHAIN_POLL_INTERVAL says nothing.
          if ((summary.counts['requested'] ?? 0) + (summary.counts['watched'] ?? 0) + (summary.counts['broadcast'] ?? 0) > 0) log.info(summary, 'chain pass');
        }
        return { leader: true, moreQueued };
      }),
    nonceFinding: () => lastNonceFinding,
  };
}

// The chain_transfers and chain_senders tables (db/migrations/005_chain.sql). Every state change
// is an UPDATE guarded by the state it leaves, and asserted to have changed exactly one row: a
// transition decided on a stale read fails instead of overwriting a newer one.
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { assertInvariant } from '../../core/errors.ts';
import { decimalColumn } from '../../db/column-types.ts';
import type { TransferAsset } from '../../schemas/generated/records.ts';
import type { ReceiptView } from './transfer-progress.ts';
import { chainSenderLock, tryLockForSession, unlockSession } from '../../db/advisory-locks.ts';

export type TransferState = 'requested' | 'signed' | 'broadcast' | 'confirmed' | 'reverted' | 'replaced' | 'failed';
export type OpenState = 'requested' | 'signed' | 'broadcast';

/** NUMERIC(78, 0) arrives as a Decimal (db/pool.ts); base units are bigint in code. */
const baseUnitsColumn = decimalColumn.transform((value, context) => {
  if (!value.isInteger()) {
    context.addIssue({ code: z.ZodIssueCode.custom, message: 'a whole number of base units' });
    return z.NEVER;
  }
  return BigInt(value.toFixed(0));
});

const transferRow = z.object({
  transfer_id: z.string(),
  command_id: z.string(),
  asset: z.enum(['ETH', 'USDT']),
  to_address: z.string(),
  amount_base_units: baseUnitsColumn,
  state: z.enum(['requested', 'signed', 'broadcast', 'confirmed', 'reverted', 'replaced', 'failed']),
  correlation_id: z.string(),
  requested_at: z.date(),
  received_at: z.date(),
  sender_address: z.string().nullable(),
  nonce: z.bigint().nullable(),
  gas_limit: baseUnitsColumn.nullable(),
  max_fee_per_gas_wei: baseUnitsColumn.nullable(),
  max_priority_fee_per_gas_wei: baseUnitsColumn.nullable(),
  raw_transaction: z.string().nullable(),
  tx_hash: z.string().nullable(),
  last_seen_at: z.date().nullable(),
  drop_count: z.number().int(),
  block_number: z.bigint().nullable(),
  block_hash: z.string().nullable(),
  waiting_reason: z.string().nullable(),
  /** The current attempt (chain_transfer_attempts row of tx_hash): what it is and when the node took it. */
  attempt_kind: z.enum(['original', 'fee_bump', 'cancel']).nullable(),
  attempt_broadcast_at: z.date().nullable(),
});
export type TransferRow = z.infer<typeof transferRow>;

const transferColumns = sql.fragment`
  transfer_id, command_id, asset, to_address, amount_base_units, state, correlation_id, requested_at, received_at,
  sender_address, nonce, gas_limit, max_fee_per_gas_wei, max_priority_fee_per_gas_wei, raw_transaction, tx_hash, last_seen_at, drop_count,
  block_number, block_hash, waiting_reason,
  (SELECT kind FROM chain_transfer_attempts WHERE chain_transfer_attempts.tx_hash = chain_transfers.tx_hash) AS attempt_kind,
  (SELECT broadcast_at FROM chain_transfer_attempts WHERE chain_transfer_attempts.tx_hash = chain_transfers.tx_hash) AS attempt_broadcast_at`;

export interface RequestedTransfer {
  readonly transferId: string;
  readonly commandId: string;
  readonly asset: TransferAsset;
  readonly toAddress: string;
  readonly amountBaseUnits: bigint;
  readonly correlationId: string;
  readonly requestedAt: Date;
}

/** One multi-row insert; a transfer id already recorded is left as it is. Returns the ids inserted. */
export async function insertRequestedTransfers(transaction: DatabaseTransactionConnection, transfers: readonly RequestedTransfer[], now: Date): Promise<Set<string>> {
  if (transfers.length === 0) return new Set();
  // One array parameter per column, so the parameter count does not grow with the batch.
  const inserted = await transaction.any(sql.type(z.object({ transfer_id: z.string() }))`
    INSERT INTO chain_transfers (transfer_id, command_id, asset, to_address, amount_base_units, state, correlation_id, requested_at, received_at, updated_at)
    SELECT transfer.transfer_id, transfer.command_id, transfer.asset, transfer.to_address, transfer.amount_base_units, 'requested',
           transfer.correlation_id, transfer.requested_at, ${sql.timestamp(now)}, ${sql.timestamp(now)}
    FROM unnest(
      ${sql.array(transfers.map((transfer) => transfer.transferId), 'text')},
      ${sql.array(transfers.map((transfer) => transfer.commandId), 'text')},
      ${sql.array(transfers.map((transfer) => transfer.asset), 'text')},
      ${sql.array(transfers.map((transfer) => transfer.toAddress), 'text')},
      ${sql.array(transfers.map((transfer) => transfer.amountBaseUnits.toString()), 'numeric')},
      ${sql.array(transfers.map((transfer) => transfer.correlationId), 'text')},
      ${sql.array(transfers.map((transfer) => transfer.requestedAt.toISOString()), 'timestamptz')}
    ) AS transfer (transfer_id, command_id, asset, to_address, amount_base_units, correlation_id, requested_at)
    ON CONFLICT (transfer_id) DO NOTHING
    RETURNING transfer_id
  `);
  return new Set(inserted.map((row) => row.transfer_id));
}

export async function loadTransfers(connection: CommonQueryMethods, transferIds: readonly string[]): Promise<TransferRow[]> {
  if (transferIds.length === 0) return [];
  return [
    ...(await connection.any(sql.type(transferRow)`
      SELECT ${transferColumns} FROM chain_transfers WHERE transfer_id = ANY(${sql.array(transferIds, 'text')})`)),
  ];
}

/** Open transfers in one state, oldest first (signed ones by nonce: the node takes nonces in order). */
export async function loadOpenTransfers(connection: CommonQueryMethods, state: OpenState, limit: number): Promise<TransferRow[]> {
  const order = state === 'signed' ? sql.fragment`nonce` : sql.fragment`received_at, transfer_id`;
  return [
    ...(await connection.any(sql.type(transferRow)`
      SELECT ${transferColumns} FROM chain_transfers WHERE state = ${state} ORDER BY ${order} LIMIT ${limit}`)),
  ];
}

export interface OpenCounts {
  readonly byState: Readonly<Record<OpenState, number>>;
  readonly waiting: number;
}

export async function countOpenTransfers(connection: CommonQueryMethods): Promise<OpenCounts> {
  const rows = await connection.any(sql.type(z.object({ state: z.enum(['requested', 'signed', 'broadcast']), total: z.number(), waiting: z.number() }))`
    SELECT state, count(*)::int4 AS total, count(waiting_reason)::int4 AS waiting
    FROM chain_transfers WHERE state IN ('requested', 'signed', 'broadcast') GROUP BY state`);
  const byState = { requested: 0, signed: 0, broadcast: 0 };
  let waiting = 0;
  for (const row of rows) {
    byState[row.state] = row.total;
    waiting += row.waiting;
  }
  return { byState, waiting };
}

export interface PendingSpend {
  readonly ethWei: bigint;
  readonly usdtBaseUnits: bigint;
}

/**
 * What our signed transactions with a nonce at or after `minedNonce` will still take from the
 * wallet: they are not mined at the block `minedNonce` was read at, so that block's balances do
 * not include them yet. Gas at its worst (limit × max fee).
 */
export async function pendingSpendOf(connection: CommonQueryMethods, senderAddress: string, minedNonce: bigint): Promise<PendingSpend> {
  const row = await connection.one(sql.type(z.object({ eth_wei: baseUnitsColumn, usdt_base_units: baseUnitsColumn }))`
    SELECT coalesce(sum(CASE WHEN asset = 'ETH' THEN amount_base_units ELSE 0 END + gas_limit * max_fee_per_gas_wei), 0) AS eth_wei,
           coalesce(sum(CASE WHEN asset = 'USDT' THEN amount_base_units ELSE 0 END), 0) AS usdt_base_units
    FROM chain_transfers
    WHERE sender_address = ${senderAddress} AND nonce >= ${minedNonce.toString()}::int8 AND state IN ('signed', 'broadcast')`);
  return { ethWei: row.eth_wei, usdtBaseUnits: row.usdt_base_units };
}

function assertOneRow(rowCount: number, transition: string, transferId: string): void {
  assertInvariant(rowCount === 1, `chain transfer ${transition}: exactly one row in the expected state`, { transferId, rowCount });
}

/** Records why an open transfer is not moving; returns false when that reason was already recorded. */
export async function recordWaiting(connection: CommonQueryMethods, transferId: string, reason: string | null, now: Date): Promise<boolean> {
  const result = await connection.query(sql.unsafe`
    UPDATE chain_transfers SET waiting_reason = ${reason}, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state IN ('requested', 'signed', 'broadcast') AND waiting_reason IS DISTINCT FROM ${reason}`);
  return result.rowCount === 1;
}

export async function recordFailed(transaction: DatabaseTransactionConnection, transferId: string, reason: string, now: Date): Promise<void> {
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET state = 'failed', failure_reason = ${reason}, waiting_reason = NULL, finished_at = ${sql.timestamp(now)}, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state = 'requested'`);
  assertOneRow(result.rowCount, 'requested → failed', transferId);
}

/** The sender's next nonce, locked until the transaction ends: nonce allocation is serialised here too, not only by the sender lock. */
export async function lockNextNonce(transaction: DatabaseTransactionConnection, senderAddress: string, now: Date): Promise<bigint> {
  await transaction.query(sql.unsafe`
    INSERT INTO chain_senders (sender_address, next_nonce, updated_at) VALUES (${senderAddress}, 0, ${sql.timestamp(now)})
    ON CONFLICT (sender_address) DO NOTHING`);
  return transaction.oneFirst(sql.type(z.object({ next_nonce: z.bigint() }))`
    SELECT next_nonce FROM chain_senders WHERE sender_address = ${senderAddress} FOR UPDATE`);
}

export interface SignedFields {
  readonly senderAddress: string;
  readonly nonce: bigint;
  readonly gasLimit: bigint;
  readonly maxFeePerGasWei: bigint;
  readonly maxPriorityFeePerGasWei: bigint;
  readonly rawTransaction: string;
  readonly txHash: string;
}

/**
 * Stores a pass's signed page in three statements instead of five per transfer (a page of 100 took
 * 14–20 s to sign and store that way on a loaded machine): the transfers `requested → signed` with
 * their hash and raw bytes, their first attempts, and the sender's next nonce past the highest. The
 * caller allocates the nonces consecutively from lockNextNonce in the same transaction.
 */
export async function storeSignedAll(transaction: DatabaseTransactionConnection, signed: readonly { transferId: string; fields: SignedFields }[], now: Date): Promise<void> {
  const [first] = signed;
  if (first === undefined) return;
  const senderAddress = first.fields.senderAddress;
  assertInvariant(signed.every(({ fields }) => fields.senderAddress === senderAddress), 'one sender per signing pass', { senderAddress });
  const rows = signed.map(({ transferId, fields }) => [
    transferId,
    fields.nonce.toString(),
    fields.gasLimit.toString(),
    fields.maxFeePerGasWei.toString(),
    fields.maxPriorityFeePerGasWei.toString(),
    fields.rawTransaction,
    fields.txHash,
  ]);
  const columnTypes = ['text', 'int8', 'numeric', 'numeric', 'numeric', 'text', 'text'];
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET state = 'signed', sender_address = ${senderAddress}, nonce = signed.nonce, gas_limit = signed.gas_limit,
        max_fee_per_gas_wei = signed.max_fee, max_priority_fee_per_gas_wei = signed.max_priority_fee,
        raw_transaction = signed.raw_transaction, tx_hash = signed.tx_hash, signed_at = ${sql.timestamp(now)},
        waiting_reason = NULL, updated_at = ${sql.timestamp(now)}
    FROM ${sql.unnest(rows, columnTypes)} AS signed(transfer_id, nonce, gas_limit, max_fee, max_priority_fee, raw_transaction, tx_hash)
    WHERE chain_transfers.transfer_id = signed.transfer_id AND chain_transfers.state = 'requested'`);
  assertInvariant(result.rowCount === signed.length, 'chain transfer requested → signed: exactly one row in the expected state each', { transfers: signed.length, rowCount: result.rowCount });
  await transaction.query(sql.unsafe`
    INSERT INTO chain_transfer_attempts
      (tx_hash, transfer_id, sender_address, nonce, attempt, kind, raw_transaction, gas_limit, max_fee_per_gas_wei, max_priority_fee_per_gas_wei, reason, signed_at)
    SELECT signed.tx_hash, signed.transfer_id, ${senderAddress}, signed.nonce, 1, 'original', signed.raw_transaction,
      signed.gas_limit, signed.max_fee, signed.max_priority_fee, 'requested', ${sql.timestamp(now)}
    FROM ${sql.unnest(rows, columnTypes)} AS signed(transfer_id, nonce, gas_limit, max_fee, max_priority_fee, raw_transaction, tx_hash)`);
  const highest = signed.reduce((top, { fields }) => (fields.nonce > top ? fields.nonce : top), first.fields.nonce);
  await transaction.query(sql.unsafe`
    UPDATE chain_senders SET next_nonce = ${(highest + 1n).toString()}::int8, updated_at = ${sql.timestamp(now)}
    WHERE sender_address = ${senderAddress}`);
}

/** Every transfer the node took in a pass `signed → broadcast`, with its attempt's broadcast time, in two statements. */
export async function recordBroadcastAll(transaction: DatabaseTransactionConnection, transferIds: readonly string[], now: Date): Promise<void> {
  if (transferIds.length === 0) return;
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET state = 'broadcast', broadcast_at = ${sql.timestamp(now)}, last_seen_at = ${sql.timestamp(now)},
        broadcast_attempts = broadcast_attempts + 1, waiting_reason = NULL, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ANY(${sql.array([...transferIds], 'text')}) AND state = 'signed'`);
  assertInvariant(result.rowCount === transferIds.length, 'chain transfer signed → broadcast: exactly one row in the expected state each', { transfers: transferIds.length, rowCount: result.rowCount });
  await transaction.query(sql.unsafe`
    UPDATE chain_transfer_attempts SET broadcast_at = coalesce(broadcast_at, ${sql.timestamp(now)})
    WHERE tx_hash IN (SELECT tx_hash FROM chain_transfers WHERE transfer_id = ANY(${sql.array([...transferIds], 'text')}))`);
}

export type AttemptKind = 'original' | 'fee_bump' | 'cancel';

const attemptRow = z.object({
  tx_hash: z.string(),
  attempt: z.number().int(),
  kind: z.enum(['original', 'fee_bump', 'cancel']),
  raw_transaction: z.string(),
  reason: z.string(),
  broadcast_at: z.date().nullable(),
});
export type AttemptRow = z.infer<typeof attemptRow>;

async function insertAttempt(transaction: DatabaseTransactionConnection, transferId: string, attempt: number, kind: AttemptKind, signed: SignedFields, reason: string, now: Date): Promise<void> {
  await transaction.query(sql.unsafe`
    INSERT INTO chain_transfer_attempts
      (tx_hash, transfer_id, sender_address, nonce, attempt, kind, raw_transaction, gas_limit, max_fee_per_gas_wei, max_priority_fee_per_gas_wei, reason, signed_at)
    VALUES (${signed.txHash}, ${transferId}, ${signed.senderAddress}, ${signed.nonce.toString()}::int8, ${attempt}, ${kind}, ${signed.rawTransaction},
      ${signed.gasLimit.toString()}::numeric, ${signed.maxFeePerGasWei.toString()}::numeric, ${signed.maxPriorityFeePerGasWei.toString()}::numeric,
      ${reason}, ${sql.timestamp(now)})`);
}

/** Every transaction signed for a transfer, in the order they were signed. */
export async function loadAttempts(connection: CommonQueryMethods, transferId: string): Promise<AttemptRow[]> {
  return [
    ...(await connection.any(sql.type(attemptRow)`
      SELECT tx_hash, attempt, kind, raw_transaction, reason, broadcast_at FROM chain_transfer_attempts
      WHERE transfer_id = ${transferId} ORDER BY attempt`)),
  ];
}

/** Every transaction signed for each of `transferIds` (one query for a whole pass), in signing order. */
export async function loadAttemptsOf(connection: CommonQueryMethods, transferIds: readonly string[]): Promise<Map<string, AttemptRow[]>> {
  const attempts = new Map<string, AttemptRow[]>(transferIds.map((transferId) => [transferId, []]));
  if (transferIds.length === 0) return attempts;
  const rows = await connection.any(sql.type(attemptRow.extend({ transfer_id: z.string() }))`
    SELECT transfer_id, tx_hash, attempt, kind, raw_transaction, reason, broadcast_at FROM chain_transfer_attempts
    WHERE transfer_id = ANY(${sql.array(transferIds, 'text')}) ORDER BY transfer_id, attempt`);
  for (const { transfer_id: transferId, ...attempt } of rows) attempts.get(transferId)?.push(attempt);
  return attempts;
}

/**
 * Stores a replacement at the transfer's own nonce (the foreign key to chain_transfers' (sender,
 * nonce, transfer) makes any other nonce impossible) and makes it the transfer's current
 * transaction, in one transaction that commits BEFORE it is broadcast. Guarded by the hash it
 * replaces: a decision taken on a stale read changes nothing and fails.
 */
export async function storeReplacement(
  transaction: DatabaseTransactionConnection,
  transferId: string,
  replacedHash: string,
  kind: Exclude<AttemptKind, 'original'>,
  signed: SignedFields,
  reason: string,
  now: Date,
): Promise<number> {
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET tx_hash = ${signed.txHash}, raw_transaction = ${signed.rawTransaction}, gas_limit = ${signed.gasLimit.toString()}::numeric,
        max_fee_per_gas_wei = ${signed.maxFeePerGasWei.toString()}::numeric,
        max_priority_fee_per_gas_wei = ${signed.maxPriorityFeePerGasWei.toString()}::numeric,
        waiting_reason = NULL, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state IN ('signed', 'broadcast') AND tx_hash = ${replacedHash}
      AND sender_address = ${signed.senderAddress} AND nonce = ${signed.nonce.toString()}::int8`);
  assertOneRow(result.rowCount, 'replacement of the current transaction', transferId);
  const attempt = await transaction.oneFirst(sql.type(z.object({ next: z.number().int() }))`
    SELECT coalesce(max(attempt), 0)::int4 + 1 AS next FROM chain_transfer_attempts WHERE transfer_id = ${transferId}`);
  await insertAttempt(transaction, transferId, attempt, kind, signed, reason, now);
  return attempt;
}

/** The node took this attempt (first time only). */
export async function recordAttemptBroadcast(connection: CommonQueryMethods, txHash: string, now: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE chain_transfer_attempts SET broadcast_at = coalesce(broadcast_at, ${sql.timestamp(now)}) WHERE tx_hash = ${txHash}`);
}

/** A broadcast that did not get the transaction into the node; it stays signed, with the reason. */
export async function recordBroadcastAttempt(connection: CommonQueryMethods, transferId: string, reason: string, now: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE chain_transfers SET broadcast_attempts = broadcast_attempts + 1, waiting_reason = ${reason}, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state = 'signed'`);
}

/** The node has the transaction (pending or mined, as `receipt` says): the drop timer restarts. */
export async function recordSeen(connection: CommonQueryMethods, transferId: string, receipt: ReceiptView | null, now: Date): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE chain_transfers
    SET last_seen_at = ${sql.timestamp(now)}, block_number = ${receipt === null ? null : receipt.blockNumber.toString()}::int8,
        block_hash = ${receipt?.blockHash ?? null}, waiting_reason = NULL, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state = 'broadcast'`);
}

/** recordSeen for many transfers in one statement (a pass watches up to a page of them). */
export async function recordSeenAll(connection: CommonQueryMethods, seen: readonly { transferId: string; receipt: ReceiptView | null }[], now: Date): Promise<void> {
  if (seen.length === 0) return;
  await connection.query(sql.unsafe`
    UPDATE chain_transfers
    SET last_seen_at = ${sql.timestamp(now)}, block_number = seen.block_number, block_hash = seen.block_hash,
        waiting_reason = NULL, updated_at = ${sql.timestamp(now)}
    FROM ${sql.unnest(
      seen.map(({ transferId, receipt }) => [transferId, receipt === null ? null : receipt.blockNumber.toString(), receipt?.blockHash ?? null]),
      ['text', 'int8', 'text'],
    )} AS seen(transfer_id, block_number, block_hash)
    WHERE chain_transfers.transfer_id = seen.transfer_id AND chain_transfers.state = 'broadcast'`);
}

export async function recordDropped(transaction: DatabaseTransactionConnection, transferId: string, now: Date): Promise<number> {
  return transaction.oneFirst(sql.type(z.object({ drop_count: z.number().int() }))`
    UPDATE chain_transfers
    SET drop_count = drop_count + 1, broadcast_attempts = broadcast_attempts + 1, last_seen_at = ${sql.timestamp(now)},
        block_number = NULL, block_hash = NULL, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state = 'broadcast'
    RETURNING drop_count`);
}

export async function recordMinedOutcome(
  transaction: DatabaseTransactionConnection,
  transferId: string,
  outcome: 'confirmed' | 'reverted',
  minedHash: string,
  receipt: ReceiptView,
  reason: string | null,
  now: Date,
): Promise<void> {
  // The row ends describing the attempt that was mined, whichever of the transfer's it was.
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET state = ${outcome}, tx_hash = attempt.tx_hash, raw_transaction = attempt.raw_transaction, block_number = ${receipt.blockNumber.toString()}::int8, block_hash = ${receipt.blockHash},
        gas_used = ${receipt.gasUsed.toString()}::numeric, effective_gas_price_wei = ${receipt.effectiveGasPriceWei.toString()}::numeric,
        failure_reason = ${reason}, waiting_reason = NULL, last_seen_at = ${sql.timestamp(now)},
        finished_at = ${sql.timestamp(now)}, updated_at = ${sql.timestamp(now)}
    FROM chain_transfer_attempts attempt
    WHERE chain_transfers.transfer_id = ${transferId} AND chain_transfers.state = 'broadcast'
      AND attempt.tx_hash = ${minedHash} AND attempt.transfer_id = chain_transfers.transfer_id`);
  assertOneRow(result.rowCount, `broadcast → ${outcome}`, transferId);
}

/**
 * recordMinedOutcome 'confirmed' for a pass's confirmations in ONE statement (a statement per
 * transfer was most of the pass's watch.record phase); the caller's transaction writes their
 * CONFIRMED events with it. Exactly one row per transfer, still `broadcast`, or nothing is written.
 */
export async function recordConfirmedAll(
  transaction: DatabaseTransactionConnection,
  confirmed: readonly { transferId: string; minedHash: string; receipt: ReceiptView }[],
  now: Date,
): Promise<void> {
  if (confirmed.length === 0) return;
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET state = 'confirmed', tx_hash = attempt.tx_hash, raw_transaction = attempt.raw_transaction, block_number = mined.block_number, block_hash = mined.block_hash,
        gas_used = mined.gas_used, effective_gas_price_wei = mined.effective_gas_price_wei,
        failure_reason = NULL, waiting_reason = NULL, last_seen_at = ${sql.timestamp(now)},
        finished_at = ${sql.timestamp(now)}, updated_at = ${sql.timestamp(now)}
    FROM ${sql.unnest(
      confirmed.map(({ transferId, minedHash, receipt }) => [
        transferId,
        minedHash,
        receipt.blockNumber.toString(),
        receipt.blockHash,
        receipt.gasUsed.toString(),
        receipt.effectiveGasPriceWei.toString(),
      ]),
      ['text', 'text', 'int8', 'text', 'numeric', 'numeric'],
    )} AS mined(transfer_id, mined_hash, block_number, block_hash, gas_used, effective_gas_price_wei)
    JOIN chain_transfer_attempts attempt ON attempt.tx_hash = mined.mined_hash AND attempt.transfer_id = mined.transfer_id
    WHERE chain_transfers.transfer_id = mined.transfer_id AND chain_transfers.state = 'broadcast'`);
  assertInvariant(result.rowCount === confirmed.length, 'chain transfer broadcast → confirmed: exactly one row in the expected state each', {
    transfers: confirmed.length,
    rowCount: result.rowCount,
  });
}

/** From signed (refused at broadcast with "nonce too low") or broadcast (watched). */
export async function recordReplaced(transaction: DatabaseTransactionConnection, transferId: string, reason: string, now: Date): Promise<void> {
  const result = await transaction.query(sql.unsafe`
    UPDATE chain_transfers
    SET state = 'replaced', failure_reason = ${reason}, waiting_reason = NULL, finished_at = ${sql.timestamp(now)}, updated_at = ${sql.timestamp(now)}
    WHERE transfer_id = ${transferId} AND state IN ('signed', 'broadcast')`);
  assertOneRow(result.rowCount, '→ replaced', transferId);
}

/** A session-level lock on the connection the worker's pass runs on; false when another session holds it. */
export async function tryLockSender(connection: CommonQueryMethods, senderAddress: string): Promise<boolean> {
  return tryLockForSession(connection, chainSenderLock(senderAddress));
}

export async function unlockSender(connection: CommonQueryMethods, senderAddress: string): Promise<void> {
  await unlockSession(connection, chainSenderLock(senderAddress));
}

/** The transfer-request handler's store over one chunk's transaction (the runtime's `openStore`). */
export interface TransferRequestStore {
  insertRequestedTransfers(transfers: readonly RequestedTransfer[], now: Date): Promise<Set<string>>;
  loadTransfers(transferIds: readonly string[]): Promise<TransferRow[]>;
}

export function openTransferRequestStore(transaction: DatabaseTransactionConnection): TransferRequestStore {
  return {
    insertRequestedTransfers: (transfers, now) => insertRequestedTransfers(transaction, transfers, now),
    loadTransfers: (transferIds) => loadTransfers(transaction, transferIds),
  };
}

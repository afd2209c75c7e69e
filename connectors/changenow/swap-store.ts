// The connector's SQL over swap_commands (db/migrations/004_changenow.sql). Every transition is a
// compare-and-set on the state the caller read, so a transition made from a stale read (another
// worker, a replayed event) changes nothing and reports that it did not apply.
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { Decimal } from '../../core/money.ts';
import { decimalColumn } from '../../db/column-types.ts';
import type { SwapIntent } from './swap-intent.ts';

const swapStates = ['intent', 'creating', 'paying_in', 'following', 'finished', 'failed'] as const;
export type SwapState = (typeof swapStates)[number];

const swapCommandRow = z.object({
  command_id: z.string(),
  command_kind: z.enum(['conversion', 'payout']),
  route: z.enum(['exchange', 'direct']),
  from_currency: z.string(),
  from_network: z.string(),
  to_currency: z.string(),
  to_network: z.string(),
  from_amount: decimalColumn,
  payout_address: z.string(),
  refund_address: z.string(),
  state: z.enum(swapStates),
  create_attempts: z.number().int(),
  create_started_at: z.date().nullable(),
  exchange_id: z.string().nullable(),
  pay_in_address: z.string().nullable(),
  expected_amount_to: decimalColumn.nullable(),
  exchange_status: z.string().nullable(),
  transfer_id: z.string().nullable(),
  amount_from: decimalColumn.nullable(),
  amount_to: decimalColumn.nullable(),
  payin_hash: z.string().nullable(),
  payout_hash: z.string().nullable(),
  failure_reason: z.string().nullable(),
  idle_polls: z.number().int(),
  next_attempt_at: z.date(),
  last_error: z.string().nullable(),
  correlation_id: z.string(),
  requested_at: z.date(),
  created_at: z.date(),
  updated_at: z.date(),
  ended_at: z.date().nullable(),
});
export type SwapCommandRow = z.infer<typeof swapCommandRow>;

const commandIdRow = z.object({ command_id: z.string() });

function text(value: Decimal | null): string | null {
  return value === null ? null : value.toFixed();
}

/**
 * Stores a chunk's swap commands as `intent` rows in ONE statement (a statement per command made
 * storing 1,000 payout commands take seconds). Each row is still dropped on its primary key when it exists,
 * so a replayed command changes nothing; resolves to the command ids actually inserted.
 */
export async function insertIntents(
  transaction: DatabaseTransactionConnection,
  intents: readonly { readonly intent: SwapIntent; readonly correlationId: string }[],
  now: Date,
): Promise<ReadonlySet<string>> {
  if (intents.length === 0) return new Set();
  const at = now.toISOString();
  const inserted = await transaction.any(sql.type(commandIdRow)`
    INSERT INTO swap_commands (
      command_id, command_kind, route, from_currency, from_network, to_currency, to_network,
      from_amount, payout_address, refund_address, state, next_attempt_at, correlation_id, requested_at)
    SELECT
      command_id, command_kind, route, from_currency, from_network, to_currency, to_network,
      from_amount, payout_address, refund_address, 'intent', ${at}::timestamptz, correlation_id, requested_at
    FROM ${sql.unnest(
      intents.map(({ intent, correlationId }) => [
        intent.commandId,
        intent.kind,
        intent.route,
        intent.fromCurrency,
        intent.fromNetwork,
        intent.toCurrency,
        intent.toNetwork,
        intent.fromAmount.toFixed(),
        intent.payoutAddress,
        intent.refundAddress,
        correlationId,
        intent.requestedAt.toISOString(),
      ]),
      ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'numeric', 'text', 'text', 'text', 'timestamptz'],
    )} AS intent(
      command_id, command_kind, route, from_currency, from_network, to_currency, to_network,
      from_amount, payout_address, refund_address, correlation_id, requested_at)
    ON CONFLICT (command_id) DO NOTHING
    RETURNING command_id
  `);
  return new Set(inserted.map((row) => row.command_id));
}

export async function findCommandByTransfer(connection: CommonQueryMethods, transferId: string): Promise<SwapCommandRow | null> {
  return connection.maybeOne(sql.type(swapCommandRow)`
    SELECT * FROM swap_commands WHERE transfer_id = ${transferId} FOR UPDATE
  `);
}

/**
 * The due commands, those whose pay-in is confirmed (`following`) first, then the longest due. A
 * finished exchange is what pays the merchant, and its status poll is one request; a new command
 * needs a create and then a pay-in before it can finish. In oldest-due order, 1,000 fresh commands
 * stored at once came before every poll of an exchange already paid in, so under a tight rate
 * budget each such exchange waited for all the creates (100 s at 10/s).
 */
export async function dueCommands(connection: CommonQueryMethods, now: Date, limit: number): Promise<readonly SwapCommandRow[]> {
  return connection.any(sql.type(swapCommandRow)`
    SELECT * FROM swap_commands
    WHERE state NOT IN ('finished', 'failed') AND next_attempt_at <= ${now.toISOString()}::timestamptz
    ORDER BY state = 'following' DESC, next_attempt_at, command_id
    LIMIT ${limit}
  `);
}

export async function commandById(connection: CommonQueryMethods, commandId: string): Promise<SwapCommandRow | null> {
  return connection.maybeOne(sql.type(swapCommandRow)`SELECT * FROM swap_commands WHERE command_id = ${commandId}`);
}

/** The same condition as dueCommands, for a row read again under its lock. */
export function isDue(row: SwapCommandRow, now: Date): boolean {
  return row.state !== 'finished' && row.state !== 'failed' && row.next_attempt_at.getTime() <= now.getTime();
}

export interface Transition {
  readonly commandId: string;
  readonly from: SwapState;
  readonly to: SwapState;
  readonly now: Date;
  readonly nextAttemptAt?: Date;
  readonly set?: Partial<{
    createStarted: boolean;
    exchangeId: string;
    payInAddress: string;
    expectedAmountTo: Decimal;
    exchangeStatus: string;
    transferId: string;
    amountFrom: Decimal | null;
    amountTo: Decimal;
    payinHash: string | null;
    payoutHash: string;
    failureReason: string;
    idlePolls: number;
    lastError: string | null;
  }>;
}

/** Applies a transition if the row is still in `from`; false when someone else moved it first. */
export async function transition(connection: CommonQueryMethods, change: Transition): Promise<boolean> {
  const set = change.set ?? {};
  const ended = change.to === 'finished' || change.to === 'failed';
  const assignments = [
    sql.fragment`state = ${change.to}`,
    sql.fragment`updated_at = ${change.now.toISOString()}::timestamptz`,
    sql.fragment`next_attempt_at = ${(change.nextAttemptAt ?? change.now).toISOString()}::timestamptz`,
  ];
  if (ended) assignments.push(sql.fragment`ended_at = ${change.now.toISOString()}::timestamptz`);
  if (set.createStarted === true) {
    assignments.push(sql.fragment`create_started_at = ${change.now.toISOString()}::timestamptz`);
    assignments.push(sql.fragment`create_attempts = create_attempts + 1`);
  }
  if (set.exchangeId !== undefined) assignments.push(sql.fragment`exchange_id = ${set.exchangeId}`);
  if (set.payInAddress !== undefined) assignments.push(sql.fragment`pay_in_address = ${set.payInAddress}`);
  if (set.expectedAmountTo !== undefined) assignments.push(sql.fragment`expected_amount_to = ${text(set.expectedAmountTo)}::numeric`);
  if (set.exchangeStatus !== undefined) assignments.push(sql.fragment`exchange_status = ${set.exchangeStatus}`);
  if (set.transferId !== undefined) assignments.push(sql.fragment`transfer_id = ${set.transferId}`);
  if (set.amountFrom !== undefined) assignments.push(sql.fragment`amount_from = ${text(set.amountFrom)}::numeric`);
  if (set.amountTo !== undefined) assignments.push(sql.fragment`amount_to = ${text(set.amountTo)}::numeric`);
  if (set.payinHash !== undefined) assignments.push(sql.fragment`payin_hash = ${set.payinHash}`);
  if (set.payoutHash !== undefined) assignments.push(sql.fragment`payout_hash = ${set.payoutHash}`);
  if (set.failureReason !== undefined) assignments.push(sql.fragment`failure_reason = ${set.failureReason}`);
  if (set.idlePolls !== undefined) assignments.push(sql.fragment`idle_polls = ${set.idlePolls}`);
  if (set.lastError !== undefined) assignments.push(sql.fragment`last_error = ${set.lastError}`);
  const updated = await connection.maybeOne(sql.type(commandIdRow)`
    UPDATE swap_commands SET ${sql.join(assignments, sql.fragment`, `)}
    WHERE command_id = ${change.commandId} AND state = ${change.from}
    RETURNING command_id
  `);
  return updated !== null;
}

/** Keeps the state, records why nothing moved, and when to look again. */
export async function postpone(
  connection: CommonQueryMethods,
  commandId: string,
  state: SwapState,
  nextAttemptAt: Date,
  lastError: string | null,
): Promise<void> {
  await connection.query(sql.unsafe`
    UPDATE swap_commands
    SET next_attempt_at = ${nextAttemptAt.toISOString()}::timestamptz, last_error = ${lastError}, updated_at = now()
    WHERE command_id = ${commandId} AND state = ${state}
  `);
}

/** The connector handler's store: the statements it needs over one chunk's transaction (the runtime's `openStore`). */
export interface SwapCommandStore {
  insertIntents(intents: readonly { readonly intent: SwapIntent; readonly correlationId: string }[], now: Date): Promise<ReadonlySet<string>>;
  findCommandByTransfer(transferId: string): Promise<SwapCommandRow | null>;
  transition(change: Transition): Promise<boolean>;
}

export function openSwapCommandStore(transaction: DatabaseTransactionConnection): SwapCommandStore {
  return {
    insertIntents: (intents, now) => insertIntents(transaction, intents, now),
    findCommandByTransfer: (transferId) => findCommandByTransfer(transaction, transferId),
    transition: (change) => transition(transaction, change),
  };
}

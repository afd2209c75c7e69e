// Every PostgreSQL advisory lock the pipeline takes, in one place. Advisory locks share one key
// space per database, and two call sites agree on a lock only by computing the same key: before
// this module the admin API and the router agreed on a client's key through a string built in
// two files. Here every lock has a name, and one scheme turns a name into a key:
//
//   key = the first 8 bytes of sha256('payout-pipeline:' || name), as a signed 64-bit integer.
//
// JS computes it (advisoryLockKey) where the name is known in JS; SQL computes the same number
// (advisoryLockKeySql) where the names come from rows, as in the router's set-based lock. sha256
// rather than PostgreSQL's hashtextextended: JS cannot compute the latter, and one scheme means
// both sides must be able to. The names of the settlement, global-window, chain-sender and
// migration locks are the ones those locks were derived from before, so their keys did not change.
//
// A changed key is a changed lock: a process on the old key and one on the new key do not exclude
// each other. Deploy a change of any key here with every process stopped first (no mixed versions).
import { createHash } from 'node:crypto';
import { sql, type CommonQueryMethods, type DatabaseTransactionConnection, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';

const namespace = 'payout-pipeline:';

/** The key of a lock name in the pipeline's one scheme (see the header). */
export function advisoryLockKey(name: string): bigint {
  const digest = createHash('sha256').update(`${namespace}${name}`, 'utf8').digest('hex');
  return BigInt.asIntN(64, BigInt(`0x${digest.slice(0, 16)}`));
}

/** The same key as advisoryLockKey, computed by PostgreSQL from a text expression naming the lock. */
export function advisoryLockKeySql(name: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`('x' || left(encode(sha256(convert_to(${namespace} || ${name}, 'UTF8')), 'hex'), 16))::bit(64)::bigint`;
}

/** Lock names; a lock's key is advisoryLockKey of its name. Exported for the tests and the docs. */
export const advisoryLockNames = {
  globalWindow: 'global-micro-batch-window',
  settlement: 'settlement',
  client: (clientId: string) => `client:${clientId}`,
  payment: (paymentId: string) => `payment:${paymentId}`,
  threshold: 'setting:micro_batch_threshold_usd',
  livenessCheck: 'liveness-alerts',
  swapCommand: (commandId: string) => `changenow-connector:swap-command:${commandId}`,
  // Addresses are case-insensitive hex: one sender, one lock, however it is spelled.
  chainSender: (senderAddress: string) => `chain-sender:${senderAddress.toLowerCase()}`,
  outboxRelay: 'outbox-relay',
  migrations: 'schema_migrations',
} as const;

/**
 * The accumulator's global micro-batch window (transaction lock): every evaluation, on any
 * instance, decides on the pending payments the previous one left (micro-batch-evaluation.ts).
 */
export function globalWindowLock(): bigint {
  return advisoryLockKey(advisoryLockNames.globalWindow);
}

/**
 * Settlement (transaction lock): the swap-event handler's chunks and the per-client window's
 * evaluations both change which credits are free; each decision sees the previous one's result
 * (processors/settlement/settlement-lock.ts).
 */
export function settlementLock(): bigint {
  return advisoryLockKey(advisoryLockNames.settlement);
}

/**
 * One client (transaction lock): the admin API's config changes (client-store.ts) and the
 * router's payment and registration paths (router-store.ts, set-based: clientLockSql) serialise on
 * it, so a payment sees a client's committed config or is unroutable before the registration
 * looks for unroutable rows.
 */
export function clientLock(clientId: string): bigint {
  return advisoryLockKey(advisoryLockNames.client(clientId));
}

/** clientLock computed by PostgreSQL from a text expression holding the client id. */
export function clientLockSql(clientId: FragmentSqlToken): FragmentSqlToken {
  return advisoryLockKeySql(sql.fragment`'client:' || ${clientId}`);
}

/**
 * One payment (transaction lock): the webhook's intake of a finished payment, so two deliveries
 * of the same IPN at once accept it once and compare the second with the first (payment-intake.ts).
 */
export function paymentLock(paymentId: string): bigint {
  return advisoryLockKey(advisoryLockNames.payment(paymentId));
}

/**
 * The micro-batch threshold (transaction lock): admin and CLI changes serialise, so each audit
 * row's old value is exactly the previous new value (threshold-store.ts).
 */
export function thresholdLock(): bigint {
  return advisoryLockKey(advisoryLockNames.threshold);
}

/**
 * The liveness check (transaction lock): one admin instance at a time finds, remembers and alerts,
 * so each transition is alerted exactly once (liveness-alerts.ts).
 */
export function livenessCheckLock(): bigint {
  return advisoryLockKey(advisoryLockNames.livenessCheck);
}

/**
 * One ChangeNow swap command (session lock, tried, held for one step on the connection that does
 * the step): only one worker in any process steps a command at a time, so two workers never both
 * decide that no exchange exists yet for it (swap-worker.ts). Different commands go in parallel.
 */
export function swapCommandLock(commandId: string): bigint {
  return advisoryLockKey(advisoryLockNames.swapCommand(commandId));
}

/**
 * One chain sender address (session lock, tried): only its holder signs and sends, so nonces are
 * never used twice; the other chain connectors are hot standbys (transfer-store.ts).
 */
export function chainSenderLock(senderAddress: string): bigint {
  return advisoryLockKey(advisoryLockNames.chainSender(senderAddress));
}

/**
 * The outbox relay (transaction lock, tried): one publisher across all processes, so records of
 * one key are never reordered (core/processing/outbox-relay.ts).
 */
export function outboxRelayLock(): bigint {
  return advisoryLockKey(advisoryLockNames.outboxRelay);
}

/**
 * Migrations (session lock, held for the whole run): concurrent starters queue and the later ones
 * find nothing left to do (db/migrate.ts, which takes it on its own pg.Client).
 */
export function migrationsLock(): bigint {
  return advisoryLockKey(advisoryLockNames.migrations);
}

/** Waits for the lock; released when the transaction ends. */
export async function lockForTransaction(transaction: DatabaseTransactionConnection, key: bigint): Promise<void> {
  await transaction.query(sql.unsafe`SELECT pg_advisory_xact_lock(${key.toString()}::bigint)`);
}

/** Takes the lock if it is free; released when the transaction ends. */
export async function tryLockForTransaction(transaction: DatabaseTransactionConnection, key: bigint): Promise<boolean> {
  return transaction.oneFirst(sql.type(z.object({ acquired: z.boolean() }))`SELECT pg_try_advisory_xact_lock(${key.toString()}::bigint) AS acquired`);
}

/** Takes the lock for the session if it is free; the caller unlocks it on the same connection. */
export async function tryLockForSession(connection: CommonQueryMethods, key: bigint): Promise<boolean> {
  return connection.oneFirst(sql.type(z.object({ acquired: z.boolean() }))`SELECT pg_try_advisory_lock(${key.toString()}::bigint) AS acquired`);
}

export async function unlockSession(connection: CommonQueryMethods, key: bigint): Promise<void> {
  await connection.query(sql.unsafe`SELECT pg_advisory_unlock(${key.toString()}::bigint)`);
}

// The router's SQL, one statement per step for a whole chunk (unnest over column arrays), inside the
// chunk's transaction. Amounts travel as their exact decimal text into numeric[] parameters, so no
// amount passes through a JS number or float8 on the way in; the pool reads numeric back as Decimal.
import { sql, type DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import type { Decimal } from '../../core/money.ts';
import type { ClientPayoutRow } from '../../core/client-payout-config.ts';
import type { InstantPayoutBatch, LedgerEntry } from './route-payment.ts';
import { arrivalOf, encodeLedgerPending, ledgerPendingChannel } from '../../db/ledger-notifications.ts';
import { decimalColumn } from '../../db/column-types.ts';
import { encodeClientChanged, settlementWindowChannel } from '../../db/settlement-notifications.ts';
import { clientsTableRow } from '../../db/clients-table.ts';
import { clientLockSql } from '../../db/advisory-locks.ts';
import { insertInstantPayoutBatches } from '../settlement/instant-payout-batches.ts';

const decimal = decimalColumn;

const clientRow = clientsTableRow.extend({
  pending_wallet_address: z.string().nullable(),
  pending_wallet_effective_at: z.date().nullable(),
});

const ledgerRow = z.object({
  payment_id: z.string(),
  client_id: z.string(),
  user_id: z.string(),
  subscription_id: z.string(),
  state: z.literal('unroutable'),
  fee_percent: decimal,
  usd_gross: decimal,
  platform_fee_usd: decimal,
  usd_net: decimal,
  eth_gross: decimal,
  platform_fee_eth: decimal,
  eth_net: decimal,
  payout_batch_id: z.null(),
  paid_at: z.date(),
  received_at: z.date(),
  routed_at: z.null(),
});

const paymentIdRow = z.object({ payment_id: z.string() });
const clientIdRow = z.object({ client_id: z.string() });

function text(value: Decimal): string {
  return value.toFixed();
}

function iso(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

/**
 * Serialises everything that routes a client's payments: the payment path and the registration
 * path both take these locks first, in the same order (sorted ids), so they never deadlock, and a
 * payment either sees the client's committed registration or is committed as unroutable before
 * the registration looks for unroutable rows. Held until the transaction ends.
 */
export async function lockClients(transaction: DatabaseTransactionConnection, clientIds: readonly string[]): Promise<void> {
  if (clientIds.length === 0) return;
  const sorted = [...new Set(clientIds)].sort();
  // PostgreSQL (≥ 9.6) evaluates a volatile select list after the sort, so the locks are taken in
  // ordinality order, which is the sorted order.
  await transaction.query(sql.unsafe`
    SELECT pg_advisory_xact_lock(${clientLockSql(sql.fragment`locked.client_id`)})
    FROM unnest(${sql.array(sorted, 'text')}) WITH ORDINALITY AS locked (client_id, position)
    ORDER BY locked.position
  `);
}

/**
 * Stores configurations newer than the stored ones. In normal operation the admin API committed
 * the row before its record could be published, so this changes nothing; it keeps the table (which
 * the payment path reads) from disagreeing with the topic when a record arrives by another way.
 */
export async function storeNewerClients(
  transaction: DatabaseTransactionConnection,
  configs: readonly (ClientPayoutRow & { readonly changed_at: Date })[],
): Promise<void> {
  if (configs.length === 0) return;
  const stored = await transaction.any(sql.type(clientIdRow)`
    INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network,
                         pending_wallet_address, pending_wallet_effective_at, created_at, updated_at)
    SELECT c.client_id, c.revision, c.strategy, c.threshold_usd, c.wallet_address, c.payout_currency, c.payout_network,
           c.pending_wallet_address, c.pending_wallet_effective_at, c.changed_at, c.changed_at
    FROM unnest(
      ${sql.array(configs.map((c) => c.client_id), 'text')},
      ${sql.array(configs.map((c) => c.revision), 'int4')},
      ${sql.array(configs.map((c) => c.strategy), 'text')},
      ${sql.array(configs.map((c) => (c.threshold_usd === null ? null : text(c.threshold_usd))), 'numeric')},
      ${sql.array(configs.map((c) => c.wallet_address), 'text')},
      ${sql.array(configs.map((c) => c.payout_currency), 'text')},
      ${sql.array(configs.map((c) => c.payout_network), 'text')},
      ${sql.array(configs.map((c) => c.pending_wallet_address), 'text')},
      ${sql.array(configs.map((c) => iso(c.pending_wallet_effective_at)), 'timestamptz')},
      ${sql.array(configs.map((c) => iso(c.changed_at)), 'timestamptz')}
    ) AS c (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network,
            pending_wallet_address, pending_wallet_effective_at, changed_at)
    ON CONFLICT (client_id) DO UPDATE SET
      revision = EXCLUDED.revision,
      strategy = EXCLUDED.strategy,
      threshold_usd = EXCLUDED.threshold_usd,
      wallet_address = EXCLUDED.wallet_address,
      payout_currency = EXCLUDED.payout_currency,
      payout_network = EXCLUDED.payout_network,
      pending_wallet_address = EXCLUDED.pending_wallet_address,
      pending_wallet_effective_at = EXCLUDED.pending_wallet_effective_at,
      updated_at = EXCLUDED.updated_at
    WHERE clients.revision < EXCLUDED.revision
    RETURNING client_id
  `);
  if (stored.length === 0) return;
  // Settlement's running window state re-decides these clients' groups on commit: a lower threshold
  // or the instant strategy may make them due (incremental-payout-window.ts).
  await transaction.query(sql.unsafe`
    SELECT pg_notify(${settlementWindowChannel}, payload) FROM unnest(${sql.array(stored.map((row) => encodeClientChanged(row.client_id)), 'text')}) AS payload`);
}

export async function loadClients(transaction: DatabaseTransactionConnection, clientIds: readonly string[]): Promise<Map<string, ClientPayoutRow>> {
  if (clientIds.length === 0) return new Map();
  const rows = await transaction.any(sql.type(clientRow)`
    SELECT client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network,
           pending_wallet_address, pending_wallet_effective_at
    FROM clients WHERE client_id = ANY(${sql.array([...new Set(clientIds)], 'text')})
  `);
  return new Map(rows.map((row) => [row.client_id, row]));
}

/** Inserts the rows whose payment is not in the ledger yet; returns the payment ids inserted. */
export async function insertLedgerEntries(transaction: DatabaseTransactionConnection, entries: readonly LedgerEntry[]): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const inserted = await transaction.any(sql.type(paymentIdRow)`
    INSERT INTO payment_ledger (payment_id, client_id, user_id, subscription_id, state, fee_percent,
                                usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net,
                                payout_batch_id, paid_at, received_at, routed_at)
    SELECT * FROM unnest(
      ${sql.array(entries.map((e) => e.payment_id), 'text')},
      ${sql.array(entries.map((e) => e.client_id), 'text')},
      ${sql.array(entries.map((e) => e.user_id), 'text')},
      ${sql.array(entries.map((e) => e.subscription_id), 'text')},
      ${sql.array(entries.map((e) => e.state), 'text')},
      ${sql.array(entries.map((e) => text(e.fee_percent)), 'numeric')},
      ${sql.array(entries.map((e) => text(e.usd_gross)), 'numeric')},
      ${sql.array(entries.map((e) => text(e.platform_fee_usd)), 'numeric')},
      ${sql.array(entries.map((e) => text(e.usd_net)), 'numeric')},
      ${sql.array(entries.map((e) => text(e.eth_gross)), 'numeric')},
      ${sql.array(entries.map((e) => text(e.platform_fee_eth)), 'numeric')},
      ${sql.array(entries.map((e) => text(e.eth_net)), 'numeric')},
      ${sql.array(entries.map((e) => e.payout_batch_id), 'text')},
      ${sql.array(entries.map((e) => iso(e.paid_at)), 'timestamptz')},
      ${sql.array(entries.map((e) => iso(e.received_at)), 'timestamptz')},
      ${sql.array(entries.map((e) => iso(e.routed_at)), 'timestamptz')}
    )
    ON CONFLICT (payment_id) DO NOTHING
    RETURNING payment_id
  `);
  return new Set(inserted.map((row) => row.payment_id));
}

/** The unroutable rows of these clients, locked for the update that routes them. */
export async function loadUnroutable(transaction: DatabaseTransactionConnection, clientIds: readonly string[]): Promise<LedgerEntry[]> {
  if (clientIds.length === 0) return [];
  const rows = await transaction.any(sql.type(ledgerRow)`
    SELECT payment_id, client_id, user_id, subscription_id, state, fee_percent,
           usd_gross, platform_fee_usd, usd_net, eth_gross, platform_fee_eth, eth_net,
           payout_batch_id, paid_at, received_at, routed_at
    FROM payment_ledger
    WHERE client_id = ANY(${sql.array([...new Set(clientIds)], 'text')}) AND state = 'unroutable'
    ORDER BY received_at, payment_id
    FOR UPDATE
  `);
  return [...rows];
}

/** Moves unroutable rows to their routed state; returns the payment ids that moved. */
export async function markRouted(transaction: DatabaseTransactionConnection, entries: readonly LedgerEntry[]): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const updated = await transaction.any(sql.type(paymentIdRow)`
    UPDATE payment_ledger AS ledger
    SET state = routed.state, payout_batch_id = routed.payout_batch_id, routed_at = routed.routed_at, updated_at = now()
    FROM unnest(
      ${sql.array(entries.map((e) => e.payment_id), 'text')},
      ${sql.array(entries.map((e) => e.state), 'text')},
      ${sql.array(entries.map((e) => e.payout_batch_id), 'text')},
      ${sql.array(entries.map((e) => iso(e.routed_at)), 'timestamptz')}
    ) AS routed (payment_id, state, payout_batch_id, routed_at)
    WHERE ledger.payment_id = routed.payment_id AND ledger.state = 'unroutable'
    RETURNING ledger.payment_id
  `);
  return new Set(updated.map((row) => row.payment_id));
}

/**
 * An instant payment's payout batch, written in the transaction that routes the payment. The
 * statement is settlement's (it owns payout_batches); the router only runs it in its transaction.
 */
export function insertPayoutBatches(transaction: DatabaseTransactionConnection, batches: readonly InstantPayoutBatch[]): Promise<void> {
  return insertInstantPayoutBatches(transaction, batches);
}

/**
 * The accumulator LISTENs on this channel; PostgreSQL delivers it only if the transaction commits,
 * so the accumulator's running summary of the window only ever adds rows that really are pending.
 * The payload carries what became pending (count, USD net sum, oldest received_at: db/ledger-notifications.ts).
 */
export async function notifyLedgerPending(transaction: DatabaseTransactionConnection, newPending: readonly LedgerEntry[]): Promise<void> {
  const arrival = arrivalOf(newPending.map((entry) => ({ usdNet: entry.usd_net, receivedAt: entry.received_at })));
  if (arrival === undefined) return;
  await transaction.query(sql.unsafe`SELECT pg_notify(${ledgerPendingChannel}, ${encodeLedgerPending(arrival)})`);
}

/** The router handler's store: the statements above over one chunk's transaction (the runtime's `openStore`). */
export interface RouterStore {
  lockClients(clientIds: readonly string[]): Promise<void>;
  storeNewerClients(configs: readonly (ClientPayoutRow & { readonly changed_at: Date })[]): Promise<void>;
  loadClients(clientIds: readonly string[]): Promise<Map<string, ClientPayoutRow>>;
  insertLedgerEntries(entries: readonly LedgerEntry[]): Promise<Set<string>>;
  loadUnroutable(clientIds: readonly string[]): Promise<LedgerEntry[]>;
  markRouted(entries: readonly LedgerEntry[]): Promise<Set<string>>;
  insertPayoutBatches(batches: readonly InstantPayoutBatch[]): Promise<void>;
  notifyLedgerPending(newPending: readonly LedgerEntry[]): Promise<void>;
}

export function openRouterStore(transaction: DatabaseTransactionConnection): RouterStore {
  return {
    lockClients: (clientIds) => lockClients(transaction, clientIds),
    storeNewerClients: (configs) => storeNewerClients(transaction, configs),
    loadClients: (clientIds) => loadClients(transaction, clientIds),
    insertLedgerEntries: (entries) => insertLedgerEntries(transaction, entries),
    loadUnroutable: (clientIds) => loadUnroutable(transaction, clientIds),
    markRouted: (entries) => markRouted(transaction, entries),
    insertPayoutBatches: (batches) => insertPayoutBatches(transaction, batches),
    notifyLedgerPending: (newPending) => notifyLedgerPending(transaction, newPending),
  };
}

// The admin's writes of client configurations. Every accepted change is one transaction: the
// `clients` row (revision + 1), its pending destination, a `client_config_history` row and the
// ClientPayoutConfig record in the outbox — so the topic carries a change if and only if it was
// stored, and the relay publishes it. Changes to one client are serialised by the same advisory
// lock the router takes before it reads a client, so a payment is routed under the old or the new
// configuration, never half of each.
import { sql, type DatabasePool, type DatabaseTransactionConnection, type SerializableValue } from 'slonik';
import { z } from 'zod';
import { insertOutboxRecords } from '../../core/processing/outbox.ts';
import { decimalValue } from '../../db/decimal-value.ts';
import { encodeClientChanged, settlementWindowChannel } from '../../db/settlement-notifications.ts';
import { topicNames } from '../../topics/topics.ts';
import type { ClientPayoutConfig } from '../../schemas/generated/records.ts';
import type { ClientChangeEvent, StoredClient } from './client-change.ts';
import { publishedPendingOf, type PendingDestination } from '../../core/client-payout-config.ts';
import { clientsTableRow } from '../../db/clients-table.ts';
import { pendingView } from './pending-change-view.ts';
import { clientLock, lockForTransaction } from '../../db/advisory-locks.ts';

const storedClientRow = clientsTableRow.extend({
  created_at: z.date(),
  updated_at: z.date(),
  pending_wallet_address: z.string().nullable(),
  pending_payout_currency: z.string().nullable(),
  pending_payout_network: z.string().nullable(),
  pending_requested_by: z.string().nullable(),
  pending_requested_at: z.date().nullable(),
  pending_effective_at: z.date().nullable(),
  published_pending_wallet_address: z.string().nullable(),
  published_pending_effective_at: z.date().nullable(),
});
type StoredClientRow = z.infer<typeof storedClientRow>;

// Rows written from the topic alone (the router's storeNewerClients, a database rebuilt by replay)
// carry a pending wallet on the clients row but none in client_pending_destinations: it is the
// same change, on the same pair, by an unknown requester.
function publishedPendingOfRow(row: StoredClientRow): PendingDestination | null {
  if (row.published_pending_wallet_address === null || row.published_pending_effective_at === null) return null;
  return {
    wallet_address: row.published_pending_wallet_address,
    payout_currency: row.payout_currency,
    payout_network: row.payout_network,
    requested_by: 'unknown',
    requested_at: row.updated_at,
    effective_at: row.published_pending_effective_at,
  };
}

function storedClientOf(row: StoredClientRow): StoredClient {
  const pending: PendingDestination | null =
    row.pending_wallet_address === null ||
    row.pending_payout_currency === null ||
    row.pending_payout_network === null ||
    row.pending_requested_by === null ||
    row.pending_requested_at === null ||
    row.pending_effective_at === null
      ? publishedPendingOfRow(row)
      : {
          wallet_address: row.pending_wallet_address,
          payout_currency: row.pending_payout_currency,
          payout_network: row.pending_payout_network,
          requested_by: row.pending_requested_by,
          requested_at: row.pending_requested_at,
          effective_at: row.pending_effective_at,
        };
  return {
    client_id: row.client_id,
    revision: row.revision,
    strategy: row.strategy,
    threshold_usd: row.threshold_usd,
    wallet_address: row.wallet_address,
    payout_currency: row.payout_currency,
    payout_network: row.payout_network,
    pending,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The router's lock on a client too (processors/router/router-store.ts): db/advisory-locks.ts. */
export async function lockClient(transaction: DatabaseTransactionConnection, clientId: string): Promise<void> {
  await lockForTransaction(transaction, clientLock(clientId));
}

type Queryable = DatabasePool | DatabaseTransactionConnection;

export async function loadClient(connection: Queryable, clientId: string): Promise<StoredClient | null> {
  const row = await connection.maybeOne(sql.type(storedClientRow)`
    SELECT c.client_id, c.revision, c.strategy, c.threshold_usd, c.wallet_address, c.payout_currency, c.payout_network,
           c.created_at, c.updated_at,
           p.wallet_address AS pending_wallet_address, p.payout_currency AS pending_payout_currency,
           p.payout_network AS pending_payout_network, p.requested_by AS pending_requested_by,
           p.requested_at AS pending_requested_at, p.effective_at AS pending_effective_at,
           c.pending_wallet_address AS published_pending_wallet_address,
           c.pending_wallet_effective_at AS published_pending_effective_at
    FROM clients c LEFT JOIN client_pending_destinations p ON p.client_id = c.client_id
    WHERE c.client_id = ${clientId}
  `);
  return row === null ? null : storedClientOf(row);
}

export function clientRecordOf(client: StoredClient, changedBy: string, changedAt: Date): ClientPayoutConfig {
  return {
    client_id: client.client_id,
    revision: client.revision,
    strategy: client.strategy === 'instant' ? 'INSTANT' : 'THRESHOLD',
    threshold_usd: client.threshold_usd,
    wallet_address: client.wallet_address,
    payout_currency: client.payout_currency,
    payout_network: client.payout_network,
    ...publishedPendingOf(client, client.pending),
    changed_by: changedBy,
    changed_at: changedAt,
  };
}

function pendingJson(pending: PendingDestination | null): Record<string, string> | null {
  // The history stores the same shape the API shows.
  return pending === null ? null : { ...pendingView(pending) };
}

/** The history snapshot. Amounts are strings: a JSON number in a jsonb column comes back as a float. */
function historyConfigOf(client: StoredClient, events: readonly ClientChangeEvent[], cancelled: PendingDestination | null): { [key: string]: SerializableValue } {
  return {
    events,
    strategy: client.strategy,
    threshold_usd: client.threshold_usd?.toFixed() ?? null,
    wallet_address: client.wallet_address,
    payout_currency: client.payout_currency,
    payout_network: client.payout_network,
    pending_destination: pendingJson(client.pending),
    ...(cancelled === null ? {} : { cancelled_destination: pendingJson(cancelled) }),
  };
}

export interface SaveClientInput {
  client: StoredClient;
  /** True when no row exists yet. */
  created: boolean;
  events: readonly ClientChangeEvent[];
  changedBy: string;
  /** What the caller said about the change (X-Actor-Note); never the actor. */
  actorNote?: string | null;
  changedAt: Date;
  correlationId: string;
  cancelled?: PendingDestination;
}

/** Stores one accepted change; the caller holds the client's lock inside `transaction`. */
export async function saveClient(transaction: DatabaseTransactionConnection, input: SaveClientInput): Promise<void> {
  const { client, changedAt } = input;
  const published = publishedPendingOf(client, client.pending);
  const threshold = client.threshold_usd === null ? null : decimalValue(client.threshold_usd);
  const pendingAddress = published.pending_wallet_address;
  const pendingAt = published.pending_wallet_effective_at === null ? null : sql.timestamp(published.pending_wallet_effective_at);
  if (input.created) {
    await transaction.query(sql.unsafe`
      INSERT INTO clients (client_id, revision, strategy, threshold_usd, wallet_address, payout_currency, payout_network,
                           pending_wallet_address, pending_wallet_effective_at, created_at, updated_at)
      VALUES (${client.client_id}, ${client.revision}, ${client.strategy}, ${threshold}, ${client.wallet_address},
              ${client.payout_currency}, ${client.payout_network}, ${pendingAddress}, ${pendingAt},
              ${sql.timestamp(client.created_at)}, ${sql.timestamp(changedAt)})
    `);
  } else {
    await transaction.query(sql.unsafe`
      UPDATE clients SET
        revision = ${client.revision}, strategy = ${client.strategy}, threshold_usd = ${threshold},
        wallet_address = ${client.wallet_address}, payout_currency = ${client.payout_currency},
        payout_network = ${client.payout_network}, pending_wallet_address = ${pendingAddress},
        pending_wallet_effective_at = ${pendingAt}, updated_at = ${sql.timestamp(changedAt)}
      WHERE client_id = ${client.client_id}
    `);
  }

  // Settlement's running window state re-decides this client's groups on commit: a lower threshold
  // or the instant strategy may make them due (incremental-payout-window.ts).
  await transaction.query(sql.unsafe`SELECT pg_notify(${settlementWindowChannel}, ${encodeClientChanged(client.client_id)})`);

  const pending = client.pending;
  if (pending === null) {
    await transaction.query(sql.unsafe`DELETE FROM client_pending_destinations WHERE client_id = ${client.client_id}`);
  } else {
    await transaction.query(sql.unsafe`
      INSERT INTO client_pending_destinations (client_id, wallet_address, payout_currency, payout_network,
                                               requested_by, requested_at, effective_at)
      VALUES (${client.client_id}, ${pending.wallet_address}, ${pending.payout_currency}, ${pending.payout_network},
              ${pending.requested_by}, ${sql.timestamp(pending.requested_at)}, ${sql.timestamp(pending.effective_at)})
      ON CONFLICT (client_id) DO UPDATE SET
        wallet_address = EXCLUDED.wallet_address, payout_currency = EXCLUDED.payout_currency,
        payout_network = EXCLUDED.payout_network, requested_by = EXCLUDED.requested_by,
        requested_at = EXCLUDED.requested_at, effective_at = EXCLUDED.effective_at
    `);
  }

  await transaction.query(sql.unsafe`
    INSERT INTO client_config_history (client_id, revision, config, changed_by, actor_note, changed_at)
    VALUES (${client.client_id}, ${client.revision}, ${sql.jsonb(historyConfigOf(client, input.events, input.cancelled ?? null))},
            ${input.changedBy}, ${input.actorNote ?? null}, ${sql.timestamp(changedAt)})
  `);

  await insertOutboxRecords(transaction, [
    {
      topic: topicNames.clientPayoutConfigs,
      schemaName: 'client-payout-config',
      key: client.client_id,
      value: clientRecordOf(client, input.changedBy, changedAt),
      correlationId: input.correlationId,
    },
  ]);
}

const historyRow = z.object({
  revision: z.number().int(),
  config: z.record(z.unknown()),
  changed_by: z.string(),
  actor_note: z.string().nullable(),
  changed_at: z.date(),
});
export type ClientHistoryRow = z.infer<typeof historyRow>;

export async function loadClientHistory(connection: Queryable, clientId: string): Promise<readonly ClientHistoryRow[]> {
  return connection.any(sql.type(historyRow)`
    SELECT revision, config, changed_by, actor_note, changed_at
    FROM client_config_history WHERE client_id = ${clientId}
    ORDER BY revision
  `);
}

const clientIdRow = z.object({ client_id: z.string() });

/** Clients whose pending destination is due at `now` (from either place it can be recorded). */
export async function findDuePendingClients(pool: DatabasePool, now: Date, limit: number): Promise<readonly string[]> {
  const rows = await pool.any(sql.type(clientIdRow)`
    SELECT client_id FROM client_pending_destinations WHERE effective_at <= ${sql.timestamp(now)}
    UNION
    SELECT client_id FROM clients WHERE pending_wallet_effective_at <= ${sql.timestamp(now)}
    LIMIT ${limit}
  `);
  return rows.map((row) => row.client_id);
}

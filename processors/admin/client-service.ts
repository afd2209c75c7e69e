// The admin's client operations: each loads the client under its lock, lets the pure planner
// (client-change.ts) decide, and stores the outcome in the same transaction.
import type { DatabasePool } from 'slonik';
import type { ClientConfigRequest } from './client-config.ts';
import { planApplyDue, planCancelPending, planClientChange, settleClient, type StoredClient } from './client-change.ts';
import { findDuePendingClients, loadClient, lockClient, saveClient } from './client-store.ts';
import type { PendingDestination } from '../../core/client-payout-config.ts';

export interface ClientServiceOptions {
  pool: DatabasePool;
  now: () => Date;
  cooldownMs: number;
}

export interface ChangeContext {
  /** The name of the admin token that made the change. */
  actor: string;
  /** What the caller said about it (X-Actor-Note), stored beside the actor in the history. */
  actorNote?: string | null;
  correlationId: string;
}

export type PutClientOutcome = { kind: 'created' | 'updated' | 'unchanged'; client: StoredClient };

export type CancelPendingOutcome =
  | { kind: 'cancelled'; client: StoredClient; cancelled: PendingDestination }
  | { kind: 'client_not_found' }
  | { kind: 'nothing_pending'; client: StoredClient }
  | { kind: 'already_effective'; client: StoredClient };

/** Who applies a due destination change: recorded in history and on the record. */
export const cooldownActor = 'system:wallet-cooldown';

export interface ClientService {
  put(clientId: string, request: ClientConfigRequest, context: ChangeContext): Promise<PutClientOutcome>;
  /** The client as in force now (a due pending destination counts as applied). */
  get(clientId: string): Promise<StoredClient | null>;
  cancelPending(clientId: string, context: ChangeContext): Promise<CancelPendingOutcome>;
  /** Applies due pending destinations as revisions of their own; returns how many. */
  applyDuePending(correlationId: string, limit?: number): Promise<number>;
}

export function createClientService(options: ClientServiceOptions): ClientService {
  const { pool } = options;

  return {
    async put(clientId, request, context) {
      return pool.transaction(async (transaction) => {
        await lockClient(transaction, clientId);
        const current = await loadClient(transaction, clientId);
        const now = options.now();
        const plan = planClientChange({ clientId, current, request, now, cooldownMs: options.cooldownMs, actor: context.actor });
        if (plan.kind === 'unchanged') return plan;
        await saveClient(transaction, {
          client: plan.client,
          created: plan.kind === 'created',
          events: plan.events,
          changedBy: context.actor,
          actorNote: context.actorNote ?? null,
          changedAt: now,
          correlationId: context.correlationId,
        });
        return plan;
      });
    },

    async get(clientId) {
      const client = await loadClient(pool, clientId);
      return client === null ? null : settleClient(client, options.now()).client;
    },

    async cancelPending(clientId, context) {
      return pool.transaction(async (transaction): Promise<CancelPendingOutcome> => {
        await lockClient(transaction, clientId);
        const current = await loadClient(transaction, clientId);
        if (current === null) return { kind: 'client_not_found' };
        const now = options.now();
        const plan = planCancelPending(current, now);
        if (plan.kind === 'nothing_pending') return { kind: 'nothing_pending', client: current };
        if (plan.kind === 'already_effective') return plan;
        await saveClient(transaction, {
          client: plan.client,
          created: false,
          events: ['pending_destination_cancelled'],
          changedBy: context.actor,
          actorNote: context.actorNote ?? null,
          changedAt: now,
          correlationId: context.correlationId,
          cancelled: plan.cancelled,
        });
        return plan;
      });
    },

    async applyDuePending(correlationId, limit = 100) {
      const now = options.now();
      let applied = 0;
      // One transaction per client, taking the client lock first as every other writer does, so
      // two admin instances (or a concurrent PUT) can never deadlock or apply a change twice.
      for (const clientId of await findDuePendingClients(pool, now, limit)) {
        const done = await pool.transaction(async (transaction) => {
          await lockClient(transaction, clientId);
          const current = await loadClient(transaction, clientId);
          const next = current === null ? null : planApplyDue(current, now);
          if (next === null) return false;
          await saveClient(transaction, {
            client: next,
            created: false,
            events: ['pending_destination_applied'],
            changedBy: cooldownActor,
            changedAt: now,
            correlationId,
          });
          return true;
        });
        if (done) applied += 1;
      }
      return applied;
    },
  };
}

// The router as the runtime runs it (processor.ts): its subscriptions, its store over the chunk's
// transaction, the chunk handler and the after-commit hook. The batch consumer has already claimed
// the fresh records' ids in the inbox, and commits whatever the handler writes together with the
// outbox records it emits and the records it rejects.
//
// - A payment becomes one ledger row: pending_conversion, instant_payout (plus a payout batch and a
//   PayoutRequested on payout-requests) or unroutable. The ledger's primary key is the second line
//   of defence after the inbox: a row that exists already is left alone, and nothing is emitted
//   for it, so a payment re-produced at a new offset can never pay out twice.
// - A client configuration routes the client's unroutable rows with the configuration in force.
// - Both paths first lock every client of the chunk (router-store.ts: lockClients), so a payment
//   racing its client's registration from another partition is routed exactly once either way.
// - The handler returns what it decided; metrics and logs are written from that in the
//   after-commit hook, so a chunk whose transaction is retried counts once.
import { Counter } from 'prom-client';
import { subscribe, type ConsumedRecord, type SubscribedSchema } from '../../core/processing/consumed-record.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import type { HandlerContext, Processor } from '../../core/processing/processor.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { Decimal } from '../../core/money.ts';
import { topicNames } from '../../topics/topics.ts';
import { clientRowOf, type ClientPayoutRow } from '../../core/client-payout-config.ts';
import { clientConfigViolation } from './client-config-violation.ts';
import { paymentViolation } from './payment-rules.ts';
import { instantPayoutBatchIdOf, routePayment, routeUnroutable, type InstantPayoutBatch, type RouteDecision, type RouteOutcome } from './route-payment.ts';
import { openRouterStore, type RouterStore } from './router-store.ts';
import type { RuleViolation } from './payment-rules.ts';

export interface RouterHandlerOptions {
  feePercent: Decimal;
  log: Logger;
  metrics: MetricsRegistry;
  payoutBatchIdFor?: (paymentId: string) => string;
}

export const routerSubscriptions = [
  subscribe(topicNames.paymentsReceived, 'payment-received', (value) => value.payment_id),
  // A revision is applied once; a later revision of the same client is a new message.
  subscribe(topicNames.clientPayoutConfigs, 'client-payout-config', (value) => `${value.client_id}:${value.revision}`),
] as const;

type RouterRecord = ConsumedRecord<SubscribedSchema<typeof routerSubscriptions>>;
type PaymentRecord = ConsumedRecord<'payment-received'>;
type ConfigRecord = ConsumedRecord<'client-payout-config'>;

/** What one committed chunk did, in order: counted and logged after the commit. */
export type RouterObservation =
  | { readonly kind: 'payment-rejected'; readonly correlationId: string; readonly paymentId: string; readonly violation: RuleViolation }
  | { readonly kind: 'config-rejected'; readonly correlationId: string; readonly clientId: string; readonly violation: RuleViolation }
  | { readonly kind: 'config-stored'; readonly outcome: 'applied' | 'superseded' }
  | { readonly kind: 'payment-duplicate'; readonly correlationId: string; readonly paymentId: string }
  | { readonly kind: 'payment-routed'; readonly correlationId: string; readonly paymentId: string; readonly clientId: string; readonly outcome: RouteOutcome; readonly path: Routed['path'] };

export type RouterProcessor = Processor<SubscribedSchema<typeof routerSubscriptions>, RouterStore, readonly RouterObservation[]>;

/** A decision and the record that caused it, for the correlation id of what it emits and logs. */
interface Routed {
  readonly decision: RouteDecision;
  readonly cause: RouterRecord;
  /** payment: a payment arrived; registration: its client registered after it did. */
  readonly path: 'payment' | 'registration';
}

export function createRouterProcessor(options: RouterHandlerOptions): RouterProcessor {
  const { feePercent, log } = options;
  const payoutBatchIdFor = options.payoutBatchIdFor ?? instantPayoutBatchIdOf;
  const payments = new Counter({
    name: 'router_payments_total',
    help: 'Payments the router handled, by outcome (pending_conversion, instant_payout, unroutable, duplicate, rejected) and path',
    labelNames: ['outcome', 'path'] as const,
    registers: [options.metrics],
  });
  const configs = new Counter({
    name: 'router_client_configs_total',
    help: 'Client payout configurations the router handled, by outcome (applied: the stored configuration is this revision; superseded: a newer one is stored; rejected)',
    labelNames: ['outcome'] as const,
    registers: [options.metrics],
  });

  function observe(observation: RouterObservation): void {
    switch (observation.kind) {
      case 'payment-rejected':
        payments.inc({ outcome: 'rejected', path: 'payment' });
        log.warn({ correlationId: observation.correlationId, paymentId: observation.paymentId, ...observation.violation }, 'payment dead-lettered');
        return;
      case 'config-rejected':
        configs.inc({ outcome: 'rejected' });
        log.warn({ correlationId: observation.correlationId, clientId: observation.clientId, ...observation.violation }, 'client configuration dead-lettered');
        return;
      case 'config-stored':
        configs.inc({ outcome: observation.outcome });
        return;
      case 'payment-duplicate':
        payments.inc({ outcome: 'duplicate', path: 'payment' });
        log.info({ correlationId: observation.correlationId, paymentId: observation.paymentId }, 'payment already in the ledger; nothing changed');
        return;
      case 'payment-routed': {
        const { correlationId, paymentId, clientId, outcome, path } = observation;
        payments.inc({ outcome, path });
        log.info({ correlationId, paymentId, clientId, outcome, path }, 'payment routed');
      }
    }
  }

  return {
    subscriptions: routerSubscriptions,
    openStore: openRouterStore,
    handle: (records, context) => handleChunk(records, context),
    afterCommit(results) {
      for (const observations of results) for (const observation of observations) observe(observation);
    },
  };

  async function handleChunk(records: readonly RouterRecord[], context: HandlerContext<RouterStore>): Promise<readonly RouterObservation[]> {
    const observations: RouterObservation[] = [];
    const paymentRecords: PaymentRecord[] = [];
    const configRecords: ConfigRecord[] = [];
    for (const record of records) {
      switch (record.schemaName) {
        case 'payment-received': {
          const violation = paymentViolation(record.value, feePercent);
          if (violation === null) {
            paymentRecords.push(record);
            continue;
          }
          context.reject(record, violation.field, violation.rule, violation.reason);
          observations.push({ kind: 'payment-rejected', correlationId: record.correlationId, paymentId: record.value.payment_id, violation });
          continue;
        }
        case 'client-payout-config': {
          const violation = clientConfigViolation(record.value);
          if (violation === null) {
            configRecords.push(record);
            continue;
          }
          context.reject(record, violation.field, violation.rule, violation.reason);
          observations.push({ kind: 'config-rejected', correlationId: record.correlationId, clientId: record.value.client_id, violation });
        }
      }
    }

    const { store, now } = context;
    await store.lockClients([...paymentRecords.map((r) => r.value.client_id), ...configRecords.map((r) => r.value.client_id)]);

    // Configurations first, so a payment in the same chunk already sees its client.
    const newestConfigs = new Map<string, ConfigRecord>();
    for (const record of configRecords) {
      const seen = newestConfigs.get(record.value.client_id);
      if (seen === undefined || seen.value.revision < record.value.revision) newestConfigs.set(record.value.client_id, record);
    }
    await store.storeNewerClients([...newestConfigs.values()].map((record) => ({ ...clientRowOf(record.value), changed_at: record.value.changed_at })));
    const clients = await store.loadClients([...paymentRecords.map((r) => r.value.client_id), ...newestConfigs.keys()]);
    for (const [clientId, record] of newestConfigs) {
      const stored = clients.get(clientId);
      observations.push({ kind: 'config-stored', outcome: stored !== undefined && stored.revision > record.value.revision ? 'superseded' : 'applied' });
    }

    const routed: Routed[] = [];
    const arrived = paymentRecords.map((record) => ({
      record,
      decision: routePayment({ payment: record.value, client: clients.get(record.value.client_id) ?? null, feePercent, now, payoutBatchIdFor }),
    }));
    const inserted = await store.insertLedgerEntries(arrived.map(({ decision }) => decision.ledger));
    for (const { record, decision } of arrived) {
      if (inserted.has(decision.ledger.payment_id)) routed.push({ decision, cause: record, path: 'payment' });
      else observations.push({ kind: 'payment-duplicate', correlationId: record.correlationId, paymentId: decision.ledger.payment_id });
    }

    const waiting = await store.loadUnroutable([...newestConfigs.keys()]);
    const late = waiting.flatMap((entry) => {
      const client: ClientPayoutRow | undefined = clients.get(entry.client_id);
      const cause = newestConfigs.get(entry.client_id);
      if (client === undefined || cause === undefined) return [];
      return [{ decision: routeUnroutable({ entry, client, now, payoutBatchIdFor }), cause }];
    });
    const moved = await store.markRouted(late.map(({ decision }) => decision.ledger));
    for (const { decision, cause } of late) {
      if (moved.has(decision.ledger.payment_id)) routed.push({ decision, cause, path: 'registration' });
    }

    const batches: InstantPayoutBatch[] = [];
    for (const { decision, cause, path } of routed) {
      observations.push({ kind: 'payment-routed', correlationId: cause.correlationId, paymentId: decision.ledger.payment_id, clientId: decision.ledger.client_id, outcome: decision.outcome, path });
      if (decision.outcome !== 'instant_payout') continue;
      batches.push(decision.payoutBatch);
      const command: OutboxRecord<'payout-requested'> = {
        topic: topicNames.payoutRequests,
        schemaName: 'payout-requested',
        key: decision.command.client_id,
        value: decision.command,
        correlationId: cause.correlationId,
        headers: { 'payment-id': decision.ledger.payment_id },
      };
      context.emit(command);
    }
    await store.insertPayoutBatches(batches);
    await store.notifyLedgerPending(routed.filter(({ decision }) => decision.outcome === 'pending_conversion').map(({ decision }) => decision.ledger));
    return observations;
  }
}

// The router's chunk handler: what one transaction does with the fresh records of a chunk (the
// batch consumer already claimed their ids in the inbox, and commits whatever this writes together
// with the outbox records it emits and the records it rejects).
//
// - A payment becomes one ledger row: pending_conversion, instant_payout (plus a payout batch and a
//   PayoutRequested on payout-requests) or unroutable. The ledger's primary key is the second line
//   of defence after the inbox: a row that exists already is left alone, and nothing is emitted
//   for it, so a payment re-produced at a new offset can never pay out twice.
// - A client configuration routes the client's unroutable rows with the configuration in force.
// - Both paths first lock every client of the chunk (router-store.ts: lockClients), so a payment
//   racing its client's registration from another partition is routed exactly once either way.
import { Counter } from 'prom-client';
import type { BatchHandler, ConsumedRecord } from '../../core/processing/batch-consumer.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { Decimal } from '../../core/money.ts';
import { topicNames } from '../../topics/topics.ts';
import { clientRowOf, type ClientPayoutRow } from '../../core/client-payout-config.ts';
import { clientConfigViolation } from './client-config-violation.ts';
import { paymentViolation } from './payment-rules.ts';
import { instantPayoutBatchIdOf, routePayment, routeUnroutable, type InstantPayoutBatch, type RouteDecision, type RouteOutcome } from './route-payment.ts';
import {
  insertLedgerEntries,
  insertPayoutBatches,
  loadClients,
  loadUnroutable,
  lockClients,
  markRouted,
  notifyLedgerPending,
  storeNewerClients,
} from './router-store.ts';

export interface RouterHandlerOptions {
  feePercent: Decimal;
  log: Logger;
  metrics: MetricsRegistry;
  payoutBatchIdFor?: (paymentId: string) => string;
}

type PaymentRecord = ConsumedRecord<'payment-received'>;
type ConfigRecord = ConsumedRecord<'client-payout-config'>;

/** A decision and the record that caused it, for the correlation id of what it emits and logs. */
interface Routed {
  readonly decision: RouteDecision;
  readonly cause: ConsumedRecord;
  /** payment: a payment arrived; registration: its client registered after it did. */
  readonly path: 'payment' | 'registration';
}

export function createRouterHandler(options: RouterHandlerOptions): BatchHandler {
  const { feePercent, log } = options;
  const payoutBatchIdFor = options.payoutBatchIdFor ?? instantPayoutBatchIdOf;
  // Counted inside the chunk's transaction (the runtime has no after-commit hook with the handler's
  // results), so a chunk whose transaction is retried after a failure counts twice.
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

  return async (records, context) => {
    const paymentRecords: PaymentRecord[] = [];
    const configRecords: ConfigRecord[] = [];
    for (const record of records) {
      if (record.topic === topicNames.paymentsReceived) {
        const payment = record as PaymentRecord;
        const violation = paymentViolation(payment.value, feePercent);
        if (violation === null) {
          paymentRecords.push(payment);
          continue;
        }
        context.reject(record, violation.field, violation.rule, violation.reason);
        payments.inc({ outcome: 'rejected', path: 'payment' });
        log.warn({ correlationId: record.correlationId, paymentId: payment.value.payment_id, ...violation }, 'payment dead-lettered');
      } else if (record.topic === topicNames.clientPayoutConfigs) {
        const config = record as ConfigRecord;
        const violation = clientConfigViolation(config.value);
        if (violation === null) {
          configRecords.push(config);
          continue;
        }
        context.reject(record, violation.field, violation.rule, violation.reason);
        configs.inc({ outcome: 'rejected' });
        log.warn({ correlationId: record.correlationId, clientId: config.value.client_id, ...violation }, 'client configuration dead-lettered');
      } else {
        context.reject(record, 'topic', 'subscribed-topic', `the router does not consume ${record.topic}`);
      }
    }

    const { transaction, now } = context;
    await lockClients(transaction, [...paymentRecords.map((r) => r.value.client_id), ...configRecords.map((r) => r.value.client_id)]);

    // Configurations first, so a payment in the same chunk already sees its client.
    const newestConfigs = new Map<string, ConfigRecord>();
    for (const record of configRecords) {
      const seen = newestConfigs.get(record.value.client_id);
      if (seen === undefined || seen.value.revision < record.value.revision) newestConfigs.set(record.value.client_id, record);
    }
    await storeNewerClients(
      transaction,
      [...newestConfigs.values()].map((record) => ({ ...clientRowOf(record.value), changed_at: record.value.changed_at })),
    );
    const clients = await loadClients(transaction, [...paymentRecords.map((r) => r.value.client_id), ...newestConfigs.keys()]);
    for (const [clientId, record] of newestConfigs) {
      const stored = clients.get(clientId);
      configs.inc({ outcome: stored !== undefined && stored.revision > record.value.revision ? 'superseded' : 'applied' });
    }

    const routed: Routed[] = [];
    const arrived = paymentRecords.map((record) => ({
      record,
      decision: routePayment({ payment: record.value, client: clients.get(record.value.client_id) ?? null, feePercent, now, payoutBatchIdFor }),
    }));
    const inserted = await insertLedgerEntries(transaction, arrived.map(({ decision }) => decision.ledger));
    for (const { record, decision } of arrived) {
      if (inserted.has(decision.ledger.payment_id)) {
        routed.push({ decision, cause: record, path: 'payment' });
      } else {
        payments.inc({ outcome: 'duplicate', path: 'payment' });
        log.info({ correlationId: record.correlationId, paymentId: decision.ledger.payment_id }, 'payment already in the ledger; nothing changed');
      }
    }

    const waiting = await loadUnroutable(transaction, [...newestConfigs.keys()]);
    const late = waiting.flatMap((entry) => {
      const client: ClientPayoutRow | undefined = clients.get(entry.client_id);
      const cause = newestConfigs.get(entry.client_id);
      if (client === undefined || cause === undefined) return [];
      return [{ decision: routeUnroutable({ entry, client, now, payoutBatchIdFor }), cause }];
    });
    const moved = await markRouted(transaction, late.map(({ decision }) => decision.ledger));
    for (const { decision, cause } of late) {
      if (moved.has(decision.ledger.payment_id)) routed.push({ decision, cause, path: 'registration' });
    }

    const batches: InstantPayoutBatch[] = [];
    for (const { decision, cause, path } of routed) {
      payments.inc({ outcome: decision.outcome, path });
      log.info(
        { correlationId: cause.correlationId, paymentId: decision.ledger.payment_id, clientId: decision.ledger.client_id, outcome: decision.outcome, path },
        'payment routed',
      );
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
    await insertPayoutBatches(transaction, batches);
    await notifyLedgerPending(transaction, countOf(routed, 'pending_conversion'));
  };
}

function countOf(routed: readonly Routed[], outcome: RouteOutcome): number {
  return routed.filter(({ decision }) => decision.outcome === outcome).length;
}

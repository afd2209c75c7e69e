// The chunk handler of settlement's consumer (group `settlement`, on swap-events): what one
// transaction does with the fresh SwapEvents of a chunk (the batch consumer already claimed their
// event ids in the inbox, and commits whatever this writes with the records it emits or rejects).
//
// - CONVERSION FINISHED: the USDT received is shared over the batch's payments (credits), the
//   payments become converted, the batch finished; one CreditIssued per credit.
// - CONVERSION FAILED, or FINISHED with zero received: the batch failed, its payments back to
//   pending_conversion (visibly: released memberships), the accumulator notified — unless the
//   pay-in may have left (swap-event-decision.ts): then the batch and its payments are
//   needs_recovery, with an alert, until an operator resolves it (conversion-recovery.ts).
// - PAYOUT FINISHED (with payout hash): the batch finished, its credits and payments paid out; one
//   PayoutCompleted. PAYOUT FAILED: the batch failed, its credits released for a retry with backoff.
// - CREATED / STATUS_CHANGED: the batch is swapping, with its exchange id and status.
// Records are applied one by one in consumed order: the events of one command share a key, so
// they arrive in the order the connector wrote them.
import { Counter } from 'prom-client';
import { InvariantViolation } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { BatchContext, BatchHandler, ConsumedRecord } from '../../core/processing/batch-consumer.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import type { PayoutCompleted, SwapEvent, ValueRecordOf } from '../../schemas/generated/records.ts';
import { topicNames, type ValueSchemaName } from '../../topics/topics.ts';
import { planCredits, usdtOfBaseUnits } from './conversion-credits.ts';
import {
  loadDestinations,
  lockConversionBatch,
  lockConversionMembers,
  recordConversionFailed,
  recordConversionFinished,
  recordConversionNeedsRecovery,
  recordConversionProgress,
  type ConversionOutcome,
} from './conversion-store.ts';
import { lockPayoutBatch, recordPayoutFailed, recordPayoutFinished, recordPayoutProgress, type LockedPayoutBatch, type PayoutExchangeFacts } from './payout-store.ts';
import { retryAfterFailure, type RetryRules } from './payout-retry.ts';
import { decideConversionEvent, decidePayoutEvent, type Rejection } from './swap-event-decision.ts';
import { lockSettlement } from './settlement-lock.ts';
import type { Decimal } from '../../core/money.ts';
import type { PlannedCredit } from './conversion-credits.ts';

export interface SettlementHandlerOptions {
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly retryRules: RetryRules;
}

export function swapEventOf(value: ValueRecordOf<ValueSchemaName>): SwapEvent {
  if (!('event_id' in value && 'command_kind' in value && 'type' in value)) throw new InvariantViolation('a swap-events record decodes to a SwapEvent');
  return value;
}

interface SettlementMetrics {
  readonly events: Counter<'kind' | 'type' | 'outcome'>;
  readonly alerts: Counter<'rule'>;
  readonly retriesExhausted: Counter;
}

function createSettlementMetrics(registry: MetricsRegistry): SettlementMetrics {
  // Counted inside the chunk's transaction: a chunk retried after a failure counts twice.
  return {
    events: new Counter({ name: 'settlement_swap_events_total', help: 'Swap events by command kind, type and outcome', labelNames: ['kind', 'type', 'outcome'] as const, registers: [registry] }),
    alerts: new Counter({ name: 'settlement_alerts_total', help: 'Events that contradict a recorded outcome (an operator must look)', labelNames: ['rule'] as const, registers: [registry] }),
    retriesExhausted: new Counter({ name: 'settlement_payout_retries_exhausted_total', help: 'Payout chains whose automatic retries are used up', registers: [registry] }),
  };
}

/** One CreditIssued per credit of a distributed conversion (a finished one, or one recovered by an operator). */
export function creditIssuedRecords(batchId: string, credits: readonly PlannedCredit[], now: Date, correlationId: string): OutboxRecord<'credit-issued'>[] {
  return credits.map((credit) => ({
    topic: topicNames.usdtCredits,
    schemaName: 'credit-issued',
    key: credit.clientId,
    value: {
      credit_id: credit.creditId,
      client_id: credit.clientId,
      payment_id: credit.paymentId,
      conversion_batch_id: batchId,
      usdt_amount: credit.usdtAmount,
      wallet_address: credit.destination.walletAddress,
      payout_currency: credit.destination.payoutCurrency,
      payout_network: credit.destination.payoutNetwork,
      credited_at: now,
    },
    correlationId,
  }));
}

export function createSettlementHandler(options: SettlementHandlerOptions): BatchHandler {
  const { log, retryRules } = options;
  const metrics = createSettlementMetrics(options.metrics);

  function rejectEvent(record: ConsumedRecord, event: SwapEvent, rejection: Rejection, context: BatchContext): void {
    context.reject(record, rejection.field, rejection.rule, rejection.reason);
    metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'rejected' });
    const fields = { correlationId: record.correlationId, eventId: event.event_id, commandId: event.command_id, rule: rejection.rule, reason: rejection.reason };
    if (rejection.alert) {
      metrics.alerts.inc({ rule: rejection.rule });
      log.error({ ...fields, alert: true }, 'swap event contradicts a recorded outcome; dead-lettered');
    } else {
      log.warn(fields, 'swap event dead-lettered');
    }
  }

  async function handleConversion(record: ConsumedRecord, event: SwapEvent, context: BatchContext): Promise<void> {
    const { transaction, now } = context;
    const batch = await lockConversionBatch(transaction, event.command_id);
    const decision = decideConversionEvent(batch, event);
    const outcome: ConversionOutcome = {
      batchId: event.command_id,
      exchangeId: event.exchange_id,
      exchangeStatus: event.status,
      ethSent: event.amount_from,
      payinHash: event.payin_hash,
      payoutHash: event.payout_hash,
    };
    const logFields = { correlationId: record.correlationId, eventId: event.event_id, batchId: event.command_id, type: event.type };
    switch (decision.kind) {
      case 'reject':
        rejectEvent(record, event, decision, context);
        return;
      case 'ignore':
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'ignored' });
        log.info({ ...logFields, why: decision.why }, 'conversion event changes nothing');
        return;
      case 'progress':
        await recordConversionProgress(transaction, outcome);
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'applied' });
        return;
      case 'fail': {
        const returned = await recordConversionFailed(transaction, { ...outcome, reason: decision.reason, usdtReceived: event.type === 'FINISHED' ? event.amount_to : null }, now);
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'failed' });
        log.warn({ ...logFields, reason: decision.reason, returnedToPending: returned }, 'conversion failed; its payments are back to pending conversion');
        return;
      }
      case 'hold_for_recovery': {
        const held = await recordConversionNeedsRecovery(transaction, { ...outcome, reason: decision.reason }, now);
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'needs_recovery' });
        metrics.alerts.inc({ rule: 'no second pay-in after a failed conversion' });
        log.error(
          { ...logFields, alert: true, reason: decision.reason, exchangeId: event.exchange_id, exchangeStatus: event.status, heldPayments: held },
          'conversion failed after its pay-in may have left; its payments need recovery by an operator and are not converted again',
        );
        return;
      }
      case 'finish': {
        if (batch === null) throw new InvariantViolation('a finish decision has a batch');
        const members = await lockConversionMembers(transaction, batch);
        const destinations = await loadDestinations(transaction, members.map((member) => member.clientId), now);
        const credits = planCredits({
          receivedBaseUnits: decision.receivedBaseUnits,
          members,
          destinationOf: (clientId) => {
            const destination = destinations.get(clientId);
            if (destination === undefined) throw new InvariantViolation('a converted payment belongs to a registered client', { clientId });
            return destination;
          },
        });
        const usdtReceived = usdtOfBaseUnits(decision.receivedBaseUnits);
        await recordConversionFinished(transaction, { ...outcome, usdtReceived }, credits, now);
        for (const issued of creditIssuedRecords(batch.batchId, credits, now, record.correlationId)) context.emit(issued);
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'finished' });
        log.info({ ...logFields, usdtReceived: usdtReceived.toFixed(), credits: credits.length }, 'conversion distributed: payments converted and credited');
      }
    }
  }

  function payoutCompletedOf(batch: LockedPayoutBatch, facts: PayoutExchangeFacts, payoutHash: string, payoutAmount: Decimal, now: Date): PayoutCompleted {
    return {
      payout_batch_id: batch.batchId,
      client_id: batch.clientId,
      source_currency: batch.sourceCurrency,
      source_amount: batch.sourceAmount,
      usd_value: batch.usdValue,
      payout_currency: batch.payoutCurrency,
      payout_network: batch.payoutNetwork,
      payout_amount: payoutAmount,
      wallet_address: batch.walletAddress,
      // Empty when the payout needed no exchange (a direct transfer of the same asset).
      exchange_id: facts.exchangeId ?? batch.exchangeId ?? '',
      payin_hash: facts.payinHash ?? batch.payinHash,
      payout_hash: payoutHash,
      completed_at: now,
    };
  }

  async function handlePayout(record: ConsumedRecord, event: SwapEvent, context: BatchContext): Promise<void> {
    const { transaction, now } = context;
    const batch = await lockPayoutBatch(transaction, event.command_id);
    const decision = decidePayoutEvent(batch, event);
    const facts: PayoutExchangeFacts = { exchangeId: event.exchange_id, exchangeStatus: event.status, payinHash: event.payin_hash };
    const logFields = { correlationId: record.correlationId, eventId: event.event_id, payoutBatchId: event.command_id, type: event.type };
    if (decision.kind === 'reject') {
      rejectEvent(record, event, decision, context);
      return;
    }
    if (decision.kind === 'ignore') {
      metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'ignored' });
      log.info({ ...logFields, why: decision.why }, 'payout event changes nothing');
      return;
    }
    if (batch === null) throw new InvariantViolation('an applied payout decision has a batch');
    switch (decision.kind) {
      case 'progress':
        await recordPayoutProgress(transaction, batch, facts);
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'applied' });
        return;
      case 'finish': {
        const paid = await recordPayoutFinished(transaction, batch, { ...facts, payoutHash: decision.payoutHash, payoutAmount: decision.payoutAmount }, now);
        context.emit({
          topic: topicNames.payoutsCompleted,
          schemaName: 'payout-completed',
          key: batch.clientId,
          value: payoutCompletedOf(batch, facts, decision.payoutHash, decision.payoutAmount, now),
          correlationId: record.correlationId,
        });
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'finished' });
        log.info({ ...logFields, clientId: batch.clientId, payoutHash: decision.payoutHash, credits: paid.credits, payments: paid.payments }, 'payout finished: credits paid out');
        return;
      }
      case 'fail': {
        const schedule = retryAfterFailure(batch.attempts, now, retryRules);
        const released = await recordPayoutFailed(transaction, batch, { ...facts, reason: decision.reason, schedule }, now);
        metrics.events.inc({ kind: event.command_kind, type: event.type, outcome: 'failed' });
        const fields = { ...logFields, clientId: batch.clientId, reason: decision.reason, attempts: batch.attempts, releasedCredits: released };
        if (schedule.kind === 'retry') {
          log.warn({ ...fields, nextRetryAt: schedule.at.toISOString() }, 'payout failed; its credits are held for a retry');
        } else {
          metrics.retriesExhausted.inc();
          log.error({ ...fields, alert: true, originBatchId: batch.originBatchId }, 'payout failed and its automatic retries are used up; an operator must retry it');
        }
      }
    }
  }

  return async (records, context) => {
    await lockSettlement(context.transaction);
    for (const record of records) {
      const event = swapEventOf(record.value);
      if (event.command_kind === 'CONVERSION') await handleConversion(record, event, context);
      else await handlePayout(record, event, context);
    }
  };
}

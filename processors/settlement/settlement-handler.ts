// Settlement's consumer (group `settlement`, on swap-events) as the runtime runs it (processor.ts):
// what one transaction does with the fresh SwapEvents of a chunk (the batch consumer already
// claimed their event ids in the inbox, and commits whatever this writes through its store with the
// records it emits or rejects).
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
// The handler returns what it did as notes (counts, logs); the after-commit hook writes them, so a
// chunk whose transaction is retried counts and tells once.
import { Counter } from 'prom-client';
import { InvariantViolation } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { MetricsRegistry } from '../../core/metrics.ts';
import { subscribe, type ConsumedRecord } from '../../core/processing/consumed-record.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import type { HandlerContext, Processor } from '../../core/processing/processor.ts';
import type { PayoutCompleted, SwapEvent } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { usdtOfBaseUnits } from './conversion-credits.ts';
import type { ConversionOutcome } from './conversion-store.ts';
import type { LockedPayoutBatch, PayoutExchangeFacts } from './payout-store.ts';
import { retryAfterFailure, type RetryRules } from './payout-retry.ts';
import { decideConversionEvent, decidePayoutEvent, type Rejection } from './swap-event-decision.ts';
import { openSwapEventStore, type SwapEventStore } from './swap-event-store.ts';
import type { Decimal } from '../../core/money.ts';
import type { PlannedCredit } from './conversion-credits.ts';

export interface SettlementHandlerOptions {
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  readonly retryRules: RetryRules;
}

export const swapEventSubscriptions = [subscribe(topicNames.swapEvents, 'swap-event', (value) => value.event_id)] as const;

type SwapEventRecord = ConsumedRecord<'swap-event'>;
type Context = HandlerContext<SwapEventStore>;

/** What a committed chunk did, in order: counted and logged by the after-commit hook. */
export type SettlementNote =
  | { readonly kind: 'event'; readonly commandKind: string; readonly type: string; readonly outcome: string }
  | { readonly kind: 'alert'; readonly rule: string }
  | { readonly kind: 'retries-exhausted' }
  | { readonly kind: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly fields: Readonly<Record<string, unknown>>; readonly message: string };

export type SettlementProcessor = Processor<'swap-event', SwapEventStore, readonly SettlementNote[]>;

interface SettlementMetrics {
  readonly events: Counter<'kind' | 'type' | 'outcome'>;
  readonly alerts: Counter<'rule'>;
  readonly retriesExhausted: Counter;
}

function createSettlementMetrics(registry: MetricsRegistry): SettlementMetrics {
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

export function createSettlementProcessor(options: SettlementHandlerOptions): SettlementProcessor {
  const { log, retryRules } = options;
  const metrics = createSettlementMetrics(options.metrics);

  function write(note: SettlementNote): void {
    switch (note.kind) {
      case 'event':
        metrics.events.inc({ kind: note.commandKind, type: note.type, outcome: note.outcome });
        return;
      case 'alert':
        metrics.alerts.inc({ rule: note.rule });
        return;
      case 'retries-exhausted':
        metrics.retriesExhausted.inc();
        return;
      case 'log':
        log[note.level]({ ...note.fields }, note.message);
    }
  }

  /** The notes of one chunk: what the handler did, written only once its transaction committed. */
  function notesOf(): { readonly list: SettlementNote[]; counted(event: SwapEvent, outcome: string): void; log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void } {
    const list: SettlementNote[] = [];
    return {
      list,
      counted: (event, outcome) => list.push({ kind: 'event', commandKind: event.command_kind, type: event.type, outcome }),
      log: (level, fields, message) => list.push({ kind: 'log', level, fields, message }),
    };
  }
  type Notes = ReturnType<typeof notesOf>;

  function rejectEvent(record: SwapEventRecord, event: SwapEvent, rejection: Rejection, context: Context, notes: Notes): void {
    context.reject(record, rejection.field, rejection.rule, rejection.reason);
    notes.counted(event, 'rejected');
    const fields = { correlationId: record.correlationId, eventId: event.event_id, commandId: event.command_id, rule: rejection.rule, reason: rejection.reason };
    if (rejection.alert) {
      notes.list.push({ kind: 'alert', rule: rejection.rule });
      notes.log('error', { ...fields, alert: true }, 'swap event contradicts a recorded outcome; dead-lettered');
    } else {
      notes.log('warn', fields, 'swap event dead-lettered');
    }
  }

  async function handleConversion(record: SwapEventRecord, event: SwapEvent, context: Context, notes: Notes): Promise<void> {
    const { store, now } = context;
    const batch = await store.lockConversionBatch(event.command_id);
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
        rejectEvent(record, event, decision, context, notes);
        return;
      case 'ignore':
        notes.counted(event, 'ignored');
        notes.log('info', { ...logFields, why: decision.why }, 'conversion event changes nothing');
        return;
      case 'progress':
        await store.recordConversionProgress(outcome);
        notes.counted(event, 'applied');
        return;
      case 'fail': {
        const returned = await store.recordConversionFailed({ ...outcome, reason: decision.reason, usdtReceived: event.type === 'FINISHED' ? event.amount_to : null }, now);
        notes.counted(event, 'failed');
        notes.log('warn', { ...logFields, reason: decision.reason, returnedToPending: returned }, 'conversion failed; its payments are back to pending conversion');
        return;
      }
      case 'hold_for_recovery': {
        const held = await store.recordConversionNeedsRecovery({ ...outcome, reason: decision.reason }, now);
        notes.counted(event, 'needs_recovery');
        notes.list.push({ kind: 'alert', rule: 'no second pay-in after a failed conversion' });
        notes.log(
          'error',
          { ...logFields, alert: true, reason: decision.reason, exchangeId: event.exchange_id, exchangeStatus: event.status, heldPayments: held },
          'conversion failed after its pay-in may have left; its payments need recovery by an operator and are not converted again',
        );
        return;
      }
      case 'finish': {
        if (batch === null) throw new InvariantViolation('a finish decision has a batch');
        const { credits } = await store.distributeConversion(batch, outcome, decision.receivedBaseUnits, now);
        const usdtReceived = usdtOfBaseUnits(decision.receivedBaseUnits);
        for (const issued of creditIssuedRecords(batch.batchId, credits, now, record.correlationId)) context.emit(issued);
        notes.counted(event, 'finished');
        notes.log('info', { ...logFields, usdtReceived: usdtReceived.toFixed(), credits: credits.length }, 'conversion distributed: payments converted and credited');
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

  async function handlePayout(record: SwapEventRecord, event: SwapEvent, context: Context, notes: Notes): Promise<void> {
    const { store, now } = context;
    const batch = await store.lockPayoutBatch(event.command_id);
    const decision = decidePayoutEvent(batch, event);
    const facts: PayoutExchangeFacts = { exchangeId: event.exchange_id, exchangeStatus: event.status, payinHash: event.payin_hash };
    const logFields = { correlationId: record.correlationId, eventId: event.event_id, payoutBatchId: event.command_id, type: event.type };
    if (decision.kind === 'reject') {
      rejectEvent(record, event, decision, context, notes);
      return;
    }
    if (decision.kind === 'ignore') {
      notes.counted(event, 'ignored');
      notes.log('info', { ...logFields, why: decision.why }, 'payout event changes nothing');
      return;
    }
    if (batch === null) throw new InvariantViolation('an applied payout decision has a batch');
    switch (decision.kind) {
      case 'progress':
        await store.recordPayoutProgress(batch, facts);
        notes.counted(event, 'applied');
        return;
      case 'finish': {
        const paid = await store.recordPayoutFinished(batch, { ...facts, payoutHash: decision.payoutHash, payoutAmount: decision.payoutAmount }, now);
        context.emit({
          topic: topicNames.payoutsCompleted,
          schemaName: 'payout-completed',
          key: batch.clientId,
          value: payoutCompletedOf(batch, facts, decision.payoutHash, decision.payoutAmount, now),
          correlationId: record.correlationId,
        });
        notes.counted(event, 'finished');
        notes.log('info', { ...logFields, clientId: batch.clientId, payoutHash: decision.payoutHash, credits: paid.credits, payments: paid.payments }, 'payout finished: credits paid out');
        return;
      }
      case 'fail': {
        const schedule = retryAfterFailure(batch.attempts, now, retryRules);
        const released = await store.recordPayoutFailed(batch, { ...facts, reason: decision.reason, schedule }, now);
        notes.counted(event, 'failed');
        const fields = { ...logFields, clientId: batch.clientId, reason: decision.reason, attempts: batch.attempts, releasedCredits: released };
        if (schedule.kind === 'retry') {
          notes.log('warn', { ...fields, nextRetryAt: schedule.at.toISOString() }, 'payout failed; its credits are held for a retry');
        } else {
          notes.list.push({ kind: 'retries-exhausted' });
          notes.log('error', { ...fields, alert: true, originBatchId: batch.originBatchId }, 'payout failed and its automatic retries are used up; an operator must retry it');
        }
      }
    }
  }

  return {
    subscriptions: swapEventSubscriptions,
    openStore: openSwapEventStore,
    async handle(records, context) {
      const notes = notesOf();
      await context.store.lockSettlement();
      for (const record of records) {
        const event = record.value;
        if (event.command_kind === 'CONVERSION') await handleConversion(record, event, context, notes);
        else await handlePayout(record, event, context, notes);
      }
      return notes.list;
    },
    afterCommit(results) {
      for (const notes of results) for (const note of notes) write(note);
    },
  };
}

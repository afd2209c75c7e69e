// What the ChangeNow connector does with consumed records, inside the chunk's transaction (inbox
// claim, effect and outbox commit together):
//   - a conversion or payout command becomes a swap intent row — nothing is sent to ChangeNow
//     here; the worker does that after the intent is committed, so a replayed command (same
//     command id) is dropped by the inbox and by the row's primary key;
//   - a chain event about our pay-in moves the swap on: confirmed → follow the exchange (or, on
//     the direct route, finished: the transfer was the payout); refused, reverted or replaced →
//     the swap failed, with the chain connector's reason.
// The swaps a chunk ended are its result: counted in the after-commit hook, once per commit.
import type { Logger } from '../../core/logger.ts';
import { subscribe, type ConsumedRecord, type SubscribedSchema } from '../../core/processing/consumed-record.ts';
import type { Processor } from '../../core/processing/processor.ts';
import type { ChainEvent } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { conversionIntent, isRejection, payoutIntent, type SwapIntent } from './swap-intent.ts';
import { swapEventRecord } from './swap-records.ts';
import { openSwapCommandStore, type SwapCommandStore } from './swap-store.ts';
import type { SwapMetrics } from './swap-metrics.ts';

export interface ChangeNowHandlerOptions {
  hostWalletAddress: string;
  log: Logger;
  metrics: SwapMetrics;
}

const terminalChainFailures = new Set(['REVERTED', 'REPLACED', 'FAILED']);

export const changeNowSubscriptions = [
  subscribe(topicNames.conversionRequests, 'conversion-requested', (value) => value.command_id),
  subscribe(topicNames.payoutRequests, 'payout-requested', (value) => value.command_id),
  subscribe(topicNames.chainEvents, 'chain-event', (value) => value.event_id),
] as const;

/** A swap a chunk ended (counted after the commit). */
export interface EndedSwap {
  readonly kind: string;
  readonly outcome: 'finished' | 'failed';
}

export type ChangeNowProcessor = Processor<SubscribedSchema<typeof changeNowSubscriptions>, SwapCommandStore, readonly EndedSwap[]>;

export function createChangeNowProcessor(options: ChangeNowHandlerOptions): ChangeNowProcessor {
  return {
    subscriptions: changeNowSubscriptions,
    openStore: openSwapCommandStore,
    handle: createChangeNowHandler(options),
    afterCommit(results) {
      for (const ended of results) for (const swap of ended) options.metrics.ended(swap.kind, swap.outcome);
    },
  };
}

function createChangeNowHandler(options: ChangeNowHandlerOptions): ChangeNowProcessor['handle'] {
  const { log } = options;

  return async (records, context) => {
    const { store } = context;
    const ended: EndedSwap[] = [];
    // The chunk's commands are stored together, in one statement (storeIntents), flushed before any
    // chain event so the records still take effect in their order.
    let pending: { intent: SwapIntent; correlationId: string }[] = [];
    for (const record of records) {
      if (record.schemaName === 'chain-event') {
        await storeIntents();
        await applyChainEvent(record);
        continue;
      }
      const intent = record.schemaName === 'conversion-requested' ? conversionIntent(record.value, options.hostWalletAddress) : payoutIntent(record.value, options.hostWalletAddress);
      if (isRejection(intent)) {
        log.warn({ topic: record.topic, messageId: record.messageId, rule: intent.rule, correlationId: record.correlationId }, `swap command refused: ${intent.reason}`);
        context.reject(record, intent.field, intent.rule, intent.reason);
        continue;
      }
      pending.push({ intent, correlationId: record.correlationId });
    }
    await storeIntents();
    return ended;

    async function storeIntents(): Promise<void> {
      if (pending.length === 0) return;
      const intents = pending;
      pending = [];
      // A command already stored (a replay past the inbox) is dropped on its primary key.
      const inserted = await store.insertIntents(intents, context.now);
      for (const { intent, correlationId } of intents) {
        if (!inserted.has(intent.commandId)) continue;
        log.info(
          { commandId: intent.commandId, kind: intent.kind, route: intent.route, pair: `${intent.fromCurrency}/${intent.fromNetwork}→${intent.toCurrency}/${intent.toNetwork}`, fromAmount: intent.fromAmount.toFixed(), correlationId },
          'swap command accepted',
        );
      }
    }

    async function applyChainEvent(record: ConsumedRecord<'chain-event'>): Promise<void> {
      const event: ChainEvent = record.value;
      const row = await store.findCommandByTransfer(event.transfer_id);
      if (row === null || (row.state !== 'paying_in' && row.state !== 'following')) return;
      const at = context.now;
      if (event.type === 'CONFIRMED' && row.state === 'paying_in') {
        if (row.route === 'direct') {
          if (event.tx_hash === null) {
            log.error({ alert: true, commandId: row.command_id, eventId: event.event_id }, 'a CONFIRMED chain event without a transaction hash; the payout stays unfinished');
            return;
          }
          const applied = await store.transition({
            commandId: row.command_id,
            from: 'paying_in',
            to: 'finished',
            now: at,
            set: { amountFrom: row.from_amount, amountTo: row.from_amount, payinHash: event.tx_hash, payoutHash: event.tx_hash },
          });
          if (applied) {
            context.emit(
              swapEventRecord(row, 'FINISHED', { status: null, amountFrom: row.from_amount, amountTo: row.from_amount, payinHash: event.tx_hash, payoutHash: event.tx_hash }, at),
            );
            ended.push({ kind: row.command_kind, outcome: 'finished' });
          }
          return;
        }
        // The exchange is followed from now on at the first interval: the deposit just arrived.
        await store.transition({ commandId: row.command_id, from: 'paying_in', to: 'following', now: at, set: { payinHash: event.tx_hash, idlePolls: 0 } });
        log.info({ commandId: row.command_id, txHash: event.tx_hash, correlationId: record.correlationId }, 'pay-in confirmed on chain; following the exchange');
        return;
      }
      if (terminalChainFailures.has(event.type) && row.state === 'paying_in') {
        const reason = `pay-in transfer ${event.type.toLowerCase()}: ${event.failure_reason ?? 'no reason given'}`;
        const applied = await store.transition({ commandId: row.command_id, from: 'paying_in', to: 'failed', now: at, set: { failureReason: reason } });
        if (applied) {
          context.emit(swapEventRecord(row, 'FAILED', { status: row.exchange_status, failureReason: reason }, at));
          ended.push({ kind: row.command_kind, outcome: 'failed' });
          log.warn({ commandId: row.command_id, transferId: event.transfer_id, reason, correlationId: record.correlationId }, 'swap failed: the pay-in did not happen');
        }
      }
    }
  };
}

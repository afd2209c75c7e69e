// The records the connector emits (pure). Ids are derived from the command and the step, never
// random: a step re-run after a crash emits a record with the same id, which consumers' inboxes
// drop, and the outbox only ever holds it once because it is written in the transition's
// transaction.
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import type { Decimal } from '../../core/money.ts';
import type { SwapEvent, SwapEventType, TransferRequested } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { payInAssetOf } from './swap-intent.ts';
import type { SwapCommandRow } from './swap-store.ts';

export interface SwapEventDetails {
  readonly status?: string | null;
  readonly amountFrom?: Decimal | null;
  readonly amountTo?: Decimal | null;
  readonly payinHash?: string | null;
  readonly payoutHash?: string | null;
  readonly failureReason?: string | null;
  /** Overrides the row's: the transition that emits the event also sets them. */
  readonly exchangeId?: string | null;
  readonly payInAddress?: string | null;
}

export function swapEventRecord(
  row: SwapCommandRow,
  type: SwapEventType,
  details: SwapEventDetails,
  occurredAt: Date,
): OutboxRecord<'swap-event'> {
  const status = details.status ?? null;
  const value: SwapEvent = {
    event_id: type === 'STATUS_CHANGED' ? `${row.command_id}:STATUS_CHANGED:${status ?? ''}` : `${row.command_id}:${type}`,
    command_id: row.command_id,
    command_kind: row.command_kind === 'conversion' ? 'CONVERSION' : 'PAYOUT',
    type,
    exchange_id: details.exchangeId !== undefined ? details.exchangeId : row.exchange_id,
    status,
    pay_in_address: details.payInAddress !== undefined ? details.payInAddress : row.pay_in_address,
    amount_from: details.amountFrom ?? null,
    amount_to: details.amountTo ?? null,
    payin_hash: details.payinHash ?? null,
    payout_hash: details.payoutHash ?? null,
    failure_reason: details.failureReason ?? null,
    occurred_at: occurredAt,
  };
  return { topic: topicNames.swapEvents, schemaName: 'swap-event', key: row.command_id, value, correlationId: row.correlation_id };
}

export function payInTransferId(commandId: string): string {
  return `${commandId}:payin`;
}

export function transferRequestRecord(
  row: SwapCommandRow,
  toAddress: string,
  amountBaseUnits: bigint,
  requestedAt: Date,
): OutboxRecord<'transfer-requested'> {
  const asset = payInAssetOf(row.from_currency, row.from_network);
  if (asset === undefined) throw new RangeError(`no pay-in asset for ${row.from_currency}/${row.from_network}`);
  const value: TransferRequested = {
    transfer_id: payInTransferId(row.command_id),
    command_id: row.command_id,
    asset,
    to_address: toAddress,
    amount_base_units: amountBaseUnits,
    requested_at: requestedAt,
  };
  return { topic: topicNames.transferRequests, schemaName: 'transfer-requested', key: value.transfer_id, value, correlationId: row.correlation_id };
}

// The chain connector's chunk handler: it only RECORDS transfer requests (state `requested`), in
// the runtime's transaction together with the inbox claim of their transfer ids. Nothing is
// signed or sent here: a Kafka handler may run again after a crash or a rebalance, so the
// side effect lives in the worker (chain-worker.ts), driven by what is committed.
import { getAddress } from 'ethers';
import { subscribe, type ConsumedRecord } from '../../core/processing/consumed-record.ts';
import type { Processor } from '../../core/processing/processor.ts';
import type { Logger } from '../../core/logger.ts';
import type { TransferRequested } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { transferRequestViolation, type TransferRequestRules } from './transfer-request.ts';
import { openTransferRequestStore, type RequestedTransfer, type TransferRequestStore } from './transfer-store.ts';

type TransferRecord = ConsumedRecord<'transfer-requested'>;

export const transferRequestSubscriptions = [
  // The transfer id is the idempotency key: one claim, one transfer, however often it is re-produced.
  subscribe(topicNames.transferRequests, 'transfer-requested', (value) => value.transfer_id),
] as const;

export type TransferRequestProcessor = Processor<'transfer-requested', TransferRequestStore, void>;

export interface TransferRequestHandlerOptions {
  rules: TransferRequestRules;
  log: Logger;
}

function requestedTransferOf(record: TransferRecord): RequestedTransfer {
  const request: TransferRequested = record.value;
  return {
    transferId: request.transfer_id,
    commandId: request.command_id,
    asset: request.asset,
    toAddress: getAddress(request.to_address),
    amountBaseUnits: request.amount_base_units,
    correlationId: record.correlationId,
    requestedAt: request.requested_at,
  };
}

function sameRequest(left: RequestedTransfer, right: { command_id: string; asset: string; to_address: string; amount_base_units: bigint }): boolean {
  return left.commandId === right.command_id && left.asset === right.asset && left.toAddress === right.to_address && left.amountBaseUnits === right.amount_base_units;
}

export function createTransferRequestProcessor(options: TransferRequestHandlerOptions): TransferRequestProcessor {
  return { subscriptions: transferRequestSubscriptions, openStore: openTransferRequestStore, handle: createTransferRequestHandler(options) };
}

function createTransferRequestHandler(options: TransferRequestHandlerOptions): TransferRequestProcessor['handle'] {
  const { rules, log } = options;
  return async (records, context) => {
    const accepted = new Map<string, RequestedTransfer>();
    for (const transferRecord of records) {
      const violation = transferRequestViolation(transferRecord.value, rules);
      if (violation !== null) {
        context.reject(transferRecord, violation.field, violation.rule, violation.reason);
        log.warn({ correlationId: transferRecord.correlationId, transferId: transferRecord.value.transfer_id, ...violation }, 'transfer request dead-lettered');
        continue;
      }
      accepted.set(transferRecord.value.transfer_id, requestedTransferOf(transferRecord));
    }
    const inserted = await context.store.insertRequestedTransfers([...accepted.values()], context.now);
    const existing = await context.store.loadTransfers(
      [...accepted.keys()].filter((id) => !inserted.has(id)),
    );
    for (const row of existing) {
      const request = accepted.get(row.transfer_id);
      // The inbox normally drops a repeat before it gets here; a repeat that reaches the table
      // (its claim was released, or the requester reused the id) changes nothing. A different
      // payload under the same id is the requester's bug: the first request stands.
      if (request !== undefined && !sameRequest(request, row)) {
        log.error(
          { alert: true, correlationId: request.correlationId, transferId: row.transfer_id, state: row.state },
          'transfer id reused with a different request; the first one stands and nothing else is sent',
        );
      }
    }
    for (const transfer of accepted.values()) {
      if (!inserted.has(transfer.transferId)) continue;
      log.info(
        { correlationId: transfer.correlationId, transferId: transfer.transferId, commandId: transfer.commandId, asset: transfer.asset, toAddress: transfer.toAddress, amountBaseUnits: transfer.amountBaseUnits.toString() },
        'transfer requested',
      );
    }
  };
}

// The chain connector's chunk handler: it only RECORDS transfer requests (state `requested`), in
// the runtime's transaction together with the inbox claim of their transfer ids. Nothing is
// signed or sent here: a Kafka handler may run again after a crash or a rebalance, so the
// side effect lives in the worker (chain-worker.ts), driven by what is committed.
import { getAddress } from 'ethers';
import type { BatchHandler, ConsumedRecord } from '../../core/processing/batch-consumer.ts';
import type { Logger } from '../../core/logger.ts';
import type { TransferRequested } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import { transferRequestViolation, type TransferRequestRules } from './transfer-request.ts';
import { insertRequestedTransfers, loadTransfers, type RequestedTransfer } from './transfer-store.ts';

type TransferRecord = ConsumedRecord<'transfer-requested'>;

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

export function createTransferRequestHandler(options: TransferRequestHandlerOptions): BatchHandler {
  const { rules, log } = options;
  return async (records, context) => {
    const accepted = new Map<string, RequestedTransfer>();
    for (const record of records) {
      if (record.topic !== topicNames.transferRequests) {
        context.reject(record, 'topic', 'subscribed-topic', `the chain connector does not consume ${record.topic}`);
        continue;
      }
      const transferRecord = record as TransferRecord;
      const violation = transferRequestViolation(transferRecord.value, rules);
      if (violation !== null) {
        context.reject(record, violation.field, violation.rule, violation.reason);
        log.warn({ correlationId: record.correlationId, transferId: transferRecord.value.transfer_id, ...violation }, 'transfer request dead-lettered');
        continue;
      }
      accepted.set(transferRecord.value.transfer_id, requestedTransferOf(transferRecord));
    }
    const inserted = await insertRequestedTransfers(context.transaction, [...accepted.values()], context.now);
    const existing = await loadTransfers(
      context.transaction,
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

// ChainEvent records, built from a transfer and what happened to it. Pure.
//
// The event id is `${transfer_id}:${type}:${n}` — a function of the transfer and how often that
// kind of event has happened to it (only DROPPED can happen more than once) — so a worker pass
// repeated after a crash, or a relay publishing a row twice, produces the same id, which the
// requester's inbox drops. Keyed by command id: every event of one command lands in one
// partition, in order, for the ChangeNow connector that waits on it.
import { assertInvariant } from '../../core/errors.ts';
import type { OutboxRecord } from '../../core/processing/outbox.ts';
import type { ChainEvent, ChainEventType } from '../../schemas/generated/records.ts';
import { topicNames } from '../../topics/topics.ts';
import type { ReceiptView } from './transfer-progress.ts';

export interface EventSubject {
  readonly transferId: string;
  readonly commandId: string;
  readonly correlationId: string;
}

export interface SignedSubject extends EventSubject {
  readonly txHash: string;
  readonly nonce: bigint;
}

export function chainEventIdOf(transferId: string, type: ChainEventType, occurrence: number): string {
  return `${transferId}:${type}:${occurrence}`;
}

function safeNumber(value: bigint, what: string): number {
  assertInvariant(value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER), `${what} fits an Avro long read as a safe integer`, { value: value.toString() });
  return Number(value);
}

function recordOf(subject: EventSubject, value: ChainEvent): OutboxRecord<'chain-event'> {
  return {
    topic: topicNames.chainEvents,
    schemaName: 'chain-event',
    key: subject.transferId,
    value,
    correlationId: subject.correlationId,
    headers: { 'transfer-id': subject.transferId },
  };
}

interface EventFields {
  readonly tx_hash?: string;
  readonly nonce?: bigint;
  readonly receipt?: ReceiptView;
  readonly failure_reason?: string;
}

function chainEventOf(subject: EventSubject, type: ChainEventType, occurrence: number, fields: EventFields, now: Date): OutboxRecord<'chain-event'> {
  return recordOf(subject, {
    event_id: chainEventIdOf(subject.transferId, type, occurrence),
    transfer_id: subject.transferId,
    command_id: subject.commandId,
    type,
    tx_hash: fields.tx_hash ?? null,
    nonce: fields.nonce === undefined ? null : safeNumber(fields.nonce, 'nonce'),
    block_number: fields.receipt === undefined ? null : safeNumber(fields.receipt.blockNumber, 'block number'),
    gas_used: fields.receipt?.gasUsed ?? null,
    effective_gas_price_wei: fields.receipt?.effectiveGasPriceWei ?? null,
    failure_reason: fields.failure_reason ?? null,
    occurred_at: now,
  });
}

export function broadcastEvent(subject: SignedSubject, now: Date): OutboxRecord<'chain-event'> {
  return chainEventOf(subject, 'BROADCAST', 1, { tx_hash: subject.txHash, nonce: subject.nonce }, now);
}

export function confirmedEvent(subject: SignedSubject, receipt: ReceiptView, now: Date): OutboxRecord<'chain-event'> {
  return chainEventOf(subject, 'CONFIRMED', 1, { tx_hash: subject.txHash, nonce: subject.nonce, receipt }, now);
}

export function revertedEvent(subject: SignedSubject, receipt: ReceiptView, reason: string, now: Date): OutboxRecord<'chain-event'> {
  return chainEventOf(subject, 'REVERTED', 1, { tx_hash: subject.txHash, nonce: subject.nonce, receipt, failure_reason: reason }, now);
}

export function droppedEvent(subject: SignedSubject, dropCount: number, reason: string, now: Date): OutboxRecord<'chain-event'> {
  return chainEventOf(subject, 'DROPPED', dropCount, { tx_hash: subject.txHash, nonce: subject.nonce, failure_reason: reason }, now);
}

export function replacedEvent(subject: SignedSubject, reason: string, now: Date): OutboxRecord<'chain-event'> {
  return chainEventOf(subject, 'REPLACED', 1, { tx_hash: subject.txHash, nonce: subject.nonce, failure_reason: reason }, now);
}

export function failedEvent(subject: EventSubject, reason: string, now: Date): OutboxRecord<'chain-event'> {
  return chainEventOf(subject, 'FAILED', 1, { failure_reason: reason }, now);
}

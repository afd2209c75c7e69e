// The chain connector's Prometheus metrics. Gauges are floats: for dashboards and alerts only,
// never read back as money.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from '../../core/metrics.ts';
import type { NonceStatus } from './nonce-check.ts';

export type TransferOutcome = 'confirmed' | 'reverted' | 'replaced' | 'failed';
export type BroadcastOutcome = 'accepted' | 'already_known' | 'mined_earlier' | 'unclear' | 'refused';

export interface ChainMetrics {
  finished(outcome: TransferOutcome): void;
  refused(reason: string): void;
  broadcast(outcome: BroadcastOutcome): void;
  dropped(): void;
  confirmedAfter(seconds: number): void;
  passFailed(): void;
  leader(held: boolean): void;
  openTransfers(counts: Readonly<Record<'requested' | 'signed' | 'broadcast', number>>, waiting: number): void;
  replaced(kind: 'fee_bump' | 'cancel'): void;
  nonceGap(status: NonceStatus, gap: bigint): void;
}

const gapStatuses: readonly Exclude<NonceStatus, 'in_step'>[] = ['node_behind', 'node_ahead', 'chain_changed'];

export function createChainMetrics(registry: MetricsRegistry): ChainMetrics {
  const finished = new Counter({ name: 'chain_transfers_total', help: 'Transfers that reached a terminal state, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const refused = new Counter({
    name: 'chain_transfer_refused_total',
    help: 'Transfers refused before signing, by reason (insufficient_eth, insufficient_usdt, would_revert, gas_above_cap)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const broadcasts = new Counter({ name: 'chain_broadcasts_total', help: 'Broadcasts of stored signed transactions, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const dropped = new Counter({ name: 'chain_transfers_dropped_total', help: 'Broadcast transactions the node forgot and that were sent again', registers: [registry] });
  const confirmSeconds = new Histogram({
    name: 'chain_transfer_confirm_seconds',
    help: 'From the request being recorded to the transfer confirmed',
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const passFailures = new Counter({ name: 'chain_worker_pass_failures_total', help: 'Worker passes that stopped on an error (nothing changed state on it)', registers: [registry] });
  const leader = new Gauge({ name: 'chain_sender_lock_held', help: '1 when this instance held the sender lock on its last pass', registers: [registry] });
  const open = new Gauge({ name: 'chain_transfers_open', help: 'Transfers not finished, by state', labelNames: ['state'] as const, registers: [registry] });
  const waiting = new Gauge({ name: 'chain_transfers_waiting', help: 'Open transfers held back with a reason (fee above cap, broadcast refused)', registers: [registry] });
  const replacements = new Counter({
    name: 'chain_transfer_replacements_total',
    help: 'Transactions signed to replace a transfer\'s current one at its nonce: fee_bump (stuck or fee too low), cancel (refused by the node)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const nonceGap = new Gauge({
    name: 'chain_nonce_gap',
    help: 'Nonces between the node and the ledger for the host wallet, by status (node_behind and chain_changed stop sending); 0 when in step',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  for (const status of gapStatuses) nonceGap.set({ status }, 0);
  return {
    finished: (outcome) => finished.inc({ outcome }),
    replaced: (kind) => replacements.inc({ kind }),
    nonceGap(status, gap) {
      // A gauge for dashboards only; a gap beyond 2^53 nonces is not a real chain.
      for (const each of gapStatuses) nonceGap.set({ status: each }, each === status ? Number(gap) : 0);
    },
    refused: (reason) => refused.inc({ reason }),
    broadcast: (outcome) => broadcasts.inc({ outcome }),
    dropped: () => dropped.inc(),
    confirmedAfter: (seconds) => confirmSeconds.observe(seconds),
    passFailed: () => passFailures.inc(),
    leader: (held) => leader.set(held ? 1 : 0),
    openTransfers(counts, waitingCount) {
      for (const [state, count] of Object.entries(counts)) open.set({ state }, count);
      waiting.set(waitingCount);
    },
  };
}

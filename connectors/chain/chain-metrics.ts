// The chain connector's Prometheus metrics. Gauges are floats: for dashboards and alerts only,
// never read back as money.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsRegistry } from '../../core/metrics.ts';

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
}

export function createChainMetrics(registry: MetricsRegistry): ChainMetrics {
  const finished = new Counter({ name: 'chain_transfers_total', help: 'Transfers that reached a terminal state, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const refused = new Counter({
    name: 'chain_transfer_refused_total',
    help: 'Transfers refused before signing, by reason (insufficient_eth, insufficient_usdt, would_revert)',
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
  return {
    finished: (outcome) => finished.inc({ outcome }),
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

// The ChangeNow connector's metrics. `changenow_swaps{state}` and the age of the oldest unfinished
// swap are what an operator alerts on (a stuck swap is money in flight nobody is looking at);
// `changenow_duplicate_exchanges_total` must stay 0 forever.
import { Counter, Gauge } from 'prom-client';
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { MetricsRegistry } from '../../core/metrics.ts';

export interface SwapMetrics {
  created(kind: string): void;
  ended(kind: string, outcome: 'finished' | 'failed'): void;
  readonly duplicateExchanges: Counter;
  readonly stepErrors: Counter<'state' | 'kind'>;
  observeStates(connection: CommonQueryMethods): Promise<void>;
}

const stateCountRow = z.object({ state: z.string(), count: z.bigint(), oldest_seconds: z.string().nullable() });

export function createSwapMetrics(registry: MetricsRegistry): SwapMetrics {
  const exchanges = new Counter({ name: 'changenow_exchanges_created_total', help: 'Exchanges created (or adopted after a crash), by command kind', labelNames: ['kind'] as const, registers: [registry] });
  const ended = new Counter({ name: 'changenow_swaps_ended_total', help: 'Swaps that ended, by command kind and outcome', labelNames: ['kind', 'outcome'] as const, registers: [registry] });
  const duplicateExchanges = new Counter({ name: 'changenow_duplicate_exchanges_total', help: 'Commands for which ChangeNow holds more than one exchange (must stay 0)', registers: [registry] });
  const stepErrors = new Counter({ name: 'changenow_step_errors_total', help: 'Swap steps that did not complete and were postponed', labelNames: ['state', 'kind'] as const, registers: [registry] });
  const swaps = new Gauge({ name: 'changenow_swaps', help: 'Unfinished swaps by state', labelNames: ['state'] as const, registers: [registry] });
  const oldest = new Gauge({ name: 'changenow_oldest_unfinished_swap_seconds', help: 'Age of the oldest unfinished swap', registers: [registry] });
  return {
    created: (kind) => exchanges.inc({ kind }),
    ended: (kind, outcome) => ended.inc({ kind, outcome }),
    duplicateExchanges,
    stepErrors,
    async observeStates(connection) {
      const rows = await connection.any(sql.type(stateCountRow)`
        SELECT state, count(*) AS count, extract(epoch FROM now() - min(created_at))::text AS oldest_seconds
        FROM swap_commands WHERE state NOT IN ('finished', 'failed') GROUP BY state
      `);
      swaps.reset();
      let oldestSeconds = 0;
      for (const row of rows) {
        swaps.set({ state: row.state }, Number(row.count));
        oldestSeconds = Math.max(oldestSeconds, Number(row.oldest_seconds ?? '0'));
      }
      oldest.set(oldestSeconds);
    },
  };
}

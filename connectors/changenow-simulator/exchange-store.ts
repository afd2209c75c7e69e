// The simulator's exchanges, in memory for the life of the process (the local chain it watches
// starts fresh with the stack too). Bounded: a simulator is a test and demo tool, never a ledger.
import { PipelineError } from '../../core/errors.ts';
import type { SimulatedExchange } from './simulated-exchange.ts';

export const exchangesMax = 100_000;

export interface ExchangeStore {
  add(exchange: SimulatedExchange): void;
  get(id: string): SimulatedExchange | undefined;
  /** Oldest first. */
  list(filter: { userId?: string }): SimulatedExchange[];
  /** Those still waiting for their deposit (`new` or `waiting`). */
  awaitingDeposit(): SimulatedExchange[];
  /** How many were ever created: the pay-in address index of the next one. */
  readonly size: number;
}

export function createExchangeStore(): ExchangeStore {
  const exchanges = new Map<string, SimulatedExchange>();
  return {
    add(exchange) {
      if (exchanges.size >= exchangesMax) throw new PipelineError(`The simulator holds ${exchangesMax} exchanges, its limit; restart it`);
      if (exchanges.has(exchange.id)) throw new PipelineError(`Exchange id ${exchange.id} is taken`);
      exchanges.set(exchange.id, exchange);
    },
    get: (id) => exchanges.get(id),
    list: (filter) => [...exchanges.values()].filter((exchange) => filter.userId === undefined || exchange.userId === filter.userId),
    awaitingDeposit: () => [...exchanges.values()].filter((exchange) => exchange.status === 'new' || exchange.status === 'waiting'),
    get size() {
      return exchanges.size;
    },
  };
}

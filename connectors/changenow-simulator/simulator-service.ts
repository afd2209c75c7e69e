// The simulated exchange's operations behind the HTTP routes: ranges, estimates, creating and
// finding exchanges. Rejections carry ChangeNow's error codes.
import { isAddress } from 'ethers';
import type { Decimal } from '../../core/money.ts';
import { checkRange, currencyPairOf, defaultRangeOf, quote, resolvePair, type CurrencyPair, type PairRange, type PricingRules, type Quote, type ResolvedPair } from './exchange-quote.ts';
import type { ExchangeRunner } from './exchange-runner.ts';
import type { ExchangeStore } from './exchange-store.ts';
import type { SimulatedCurrency } from './simulated-currencies.ts';
import type { SimulatedExchange } from './simulated-exchange.ts';
import type { SimulatorControls } from './simulator-controls.ts';
import { SimulatorApiError } from './simulator-json.ts';

export interface CreateExchangeInput extends CurrencyPair {
  readonly fromAmount: Decimal;
  readonly address: string;
  readonly refundAddress: string | null;
  readonly userId: string | null;
  readonly payload: Readonly<Record<string, unknown>> | null;
}

export interface SimulatorService {
  range(pair: CurrencyPair): PairRange;
  estimate(pair: CurrencyPair, fromAmount: Decimal): Quote;
  createExchange(input: CreateExchangeInput): SimulatedExchange;
  findExchange(id: string): SimulatedExchange;
  listExchanges(filter: { userId?: string }): SimulatedExchange[];
}

export interface SimulatorServiceOptions {
  store: ExchangeStore;
  controls: SimulatorControls;
  runner: ExchangeRunner;
  pricing: PricingRules;
  payinAddressOf: (index: number) => string;
  /** The last block the deposit watcher scanned: deposits of a new exchange count after it. */
  scannedThrough: () => number;
  now: () => Date;
  newExchangeId: () => string;
}

const nonEvmAddressPattern = /^[A-Za-z0-9:._-]{10,128}$/;

function assertAddressFor(currency: SimulatedCurrency, address: string, field: string): void {
  const valid = currency.evmAddresses ? isAddress(address) : nonEvmAddressPattern.test(address);
  if (!valid) throw new SimulatorApiError(400, 'not_valid_params', `${field} is not a valid ${currency.currency}/${currency.network} address`);
}

/** The pair's range: a test's override, else the default. */
export function rangeFor(controls: SimulatorControls, pair: ResolvedPair): PairRange {
  return controls.rangeOverride(currencyPairOf(pair)) ?? defaultRangeOf(pair.from);
}

export function createSimulatorService(options: SimulatorServiceOptions): SimulatorService {
  const { store, controls, pricing } = options;

  const resolved = (pair: CurrencyPair): ResolvedPair => {
    const result = resolvePair(pair);
    if ('inactive' in result) throw new SimulatorApiError(400, 'pair_is_inactive', result.inactive);
    return result;
  };

  const quoteWithinRange = (pair: CurrencyPair, fromAmount: Decimal): { resolvedPair: ResolvedPair; quoted: Quote } => {
    const resolvedPair = resolved(pair);
    const check = checkRange(rangeFor(controls, resolvedPair), fromAmount);
    if (check.kind === 'below_minimum') throw new SimulatorApiError(400, 'deposit_too_small', check.message);
    if (check.kind === 'above_maximum') throw new SimulatorApiError(400, 'out_of_range', check.message);
    const quoted = quote(resolvedPair, fromAmount, pricing);
    if (quoted.toAmount.isZero()) throw new SimulatorApiError(400, 'deposit_too_small', `Amount ${fromAmount.toFixed()} converts to nothing after fees`);
    return { resolvedPair, quoted };
  };

  return {
    range: (pair) => rangeFor(controls, resolved(pair)),
    estimate: (pair, fromAmount) => quoteWithinRange(pair, fromAmount).quoted,
    createExchange(input) {
      const { resolvedPair, quoted } = quoteWithinRange(input, input.fromAmount);
      assertAddressFor(resolvedPair.to, input.address, 'address');
      if (input.refundAddress !== null) assertAddressFor(resolvedPair.from, input.refundAddress, 'refundAddress');
      const createdAt = options.now();
      const exchange: SimulatedExchange = {
        id: options.newExchangeId(),
        pair: resolvedPair,
        status: 'new',
        expectedAmountFrom: input.fromAmount,
        expectedAmountTo: quoted.toAmount,
        amountFrom: null,
        amountTo: null,
        payinAddress: options.payinAddressOf(store.size),
        payoutAddress: input.address,
        refundAddress: input.refundAddress,
        userId: input.userId,
        payload: input.payload,
        createdAt,
        updatedAt: createdAt,
        depositReceivedAt: null,
        payinHash: null,
        payinSender: null,
        payoutHash: null,
        refundHash: null,
        refundAmount: null,
        depositAfterBlock: options.scannedThrough(),
        plannedOutcome: controls.takeOutcome({ userId: input.userId, payoutAddress: input.address, toCurrency: input.toCurrency, fromAmount: input.fromAmount }),
        endReason: null,
        statusHistory: ['new'],
      };
      store.add(exchange);
      options.runner.awaitDeposit(exchange);
      return exchange;
    },
    findExchange(id) {
      const exchange = store.get(id);
      if (exchange === undefined) throw new SimulatorApiError(404, 'not_found', `Exchange ${id} not found`);
      return exchange;
    },
    listExchanges: (filter) => store.list(filter),
  };
}

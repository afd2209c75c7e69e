// Carries an exchange from its deposit to its end, step by step (lifecycleAfterDeposit), paying out
// or refunding for real from the hot wallet. Amounts are recomputed from what actually arrived, as
// ChangeNow's floating-rate flow does.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../core/logger.ts';
import { Decimal, fromBaseUnits, toBaseUnits } from '../../core/money.ts';
import { checkRange, quote, type PairRange, type PricingRules } from './exchange-quote.ts';
import type { HotWallet } from './hot-wallet.ts';
import type { Deposit } from './payin-watcher.ts';
import { lifecycleAfterDeposit, type ExchangeStatus, type LifecycleStep, type SimulatedExchange } from './simulated-exchange.ts';

export interface ExchangeRunnerOptions {
  hotWallet: HotWallet;
  pricing: PricingRules;
  stepDelayMs: number;
  rangeOf: (exchange: SimulatedExchange) => PairRange;
  now: () => Date;
  /** The hash a payout in a currency without a local chain gets: `simulated:<currency>:<64 hex>`. */
  syntheticHash: (currency: string) => string;
  log: Logger;
}

export interface ExchangeRunner {
  /** Moves a `new` exchange to `waiting` after a step, as ChangeNow does once the pay-in address is ready. */
  awaitDeposit(exchange: SimulatedExchange): void;
  /** Takes an exchange whose deposit arrived through the rest of its life. */
  depositArrived(exchange: SimulatedExchange, deposit: Deposit): void;
  stop(): Promise<void>;
}

export function createExchangeRunner(options: ExchangeRunnerOptions): ExchangeRunner {
  const { hotWallet, log } = options;
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();

  const track = (work: Promise<void>): void => {
    running.add(work);
    void work.finally(() => running.delete(work));
  };

  const setStatus = (exchange: SimulatedExchange, status: ExchangeStatus): void => {
    if (exchange.status === status) return;
    exchange.status = status;
    exchange.statusHistory.push(status);
    exchange.updatedAt = options.now();
    log.info({ exchangeId: exchange.id, status }, 'exchange status');
  };

  const end = (exchange: SimulatedExchange, status: 'failed' | 'refunded', reason: string): void => {
    exchange.endReason = reason;
    setStatus(exchange, status);
  };

  const payout = async (exchange: SimulatedExchange): Promise<void> => {
    const { to } = exchange.pair;
    const amountTo = quote(exchange.pair, exchange.amountFrom ?? new Decimal(0), options.pricing).toAmount;
    if (to.payoutKind === 'synthetic') {
      exchange.amountTo = amountTo;
      exchange.payoutHash = options.syntheticHash(to.currency);
      setStatus(exchange, 'finished');
      return;
    }
    const sent = await hotWallet.send({ asset: to.payoutKind, to: exchange.payoutAddress, amountBaseUnits: toBaseUnits(amountTo, to.decimals) });
    exchange.payoutHash = sent.hash;
    if (!sent.succeeded) {
      end(exchange, 'failed', `the payout transaction ${sent.hash} reverted`);
      return;
    }
    exchange.amountTo = amountTo;
    setStatus(exchange, 'finished');
  };

  const refund = async (exchange: SimulatedExchange, reason: string, depositBaseUnits: bigint): Promise<void> => {
    const { from } = exchange.pair;
    const recipient = exchange.refundAddress ?? exchange.payinSender;
    if (recipient === null || from.payoutKind === 'synthetic') {
      end(exchange, 'failed', `${reason}; no address to refund to`);
      return;
    }
    const sent = await hotWallet.send({ asset: from.payoutKind, to: recipient, amountBaseUnits: depositBaseUnits });
    exchange.refundHash = sent.hash;
    if (!sent.succeeded) {
      end(exchange, 'failed', `${reason}; the refund transaction ${sent.hash} reverted`);
      return;
    }
    exchange.refundAmount = exchange.amountFrom;
    end(exchange, 'refunded', reason);
  };

  const runStep = async (exchange: SimulatedExchange, step: LifecycleStep, deposit: Deposit): Promise<void> => {
    switch (step.kind) {
      case 'status':
        setStatus(exchange, step.status);
        return;
      case 'wait':
        await sleep(step.ms, undefined, { signal: stopping.signal });
        return;
      case 'payout':
        await payout(exchange);
        return;
      case 'refund':
        await refund(exchange, step.reason, deposit.amountBaseUnits);
        return;
      case 'fail':
        end(exchange, 'failed', step.reason);
        return;
    }
  };

  const depositProblemOf = (exchange: SimulatedExchange, amountFrom: Decimal): string | null => {
    const range = checkRange(options.rangeOf(exchange), amountFrom);
    if (range.kind !== 'within') return `deposit out of range: ${range.message}`;
    if (quote(exchange.pair, amountFrom, options.pricing).toAmount.isZero()) return 'deposit too small: it converts to nothing after fees';
    return null;
  };

  const run = async (exchange: SimulatedExchange, deposit: Deposit): Promise<void> => {
    const amountFrom = fromBaseUnits(deposit.amountBaseUnits, exchange.pair.from.decimals);
    exchange.amountFrom = amountFrom;
    exchange.payinHash = deposit.transactionHash;
    exchange.payinSender = deposit.sender;
    exchange.depositReceivedAt = options.now();
    const steps = lifecycleAfterDeposit({
      plannedOutcome: exchange.plannedOutcome,
      depositProblem: depositProblemOf(exchange, amountFrom),
      stepDelayMs: options.stepDelayMs,
    });
    try {
      for (const step of steps) await runStep(exchange, step, deposit);
    } catch (error) {
      if (stopping.signal.aborted) return;
      log.error({ err: error, exchangeId: exchange.id }, 'exchange failed in the simulator');
      end(exchange, 'failed', error instanceof Error ? error.message : String(error));
    }
  };

  return {
    awaitDeposit(exchange) {
      track(
        sleep(options.stepDelayMs, undefined, { signal: stopping.signal }).then(
          () => {
            if (exchange.status === 'new') setStatus(exchange, 'waiting');
          },
          () => undefined,
        ),
      );
    },
    depositArrived(exchange, deposit) {
      // Marked at once, so the next scan does not report the same exchange again.
      setStatus(exchange, 'confirming');
      track(run(exchange, deposit));
    },
    async stop() {
      stopping.abort();
      await Promise.allSettled([...running]);
    },
  };
}

// Carries swap commands through their steps (swap_commands.state), one side effect per step:
//
//   intent ──range check──▶ creating ──create call──▶ paying_in ──pay-in on chain──▶ following ──▶ finished
//                                 │                        (chain connector)               └──▶ failed
//                                 └─ after a crash or an unclear answer: look the exchange up first
//
// At most one exchange per command. The step that may create an exchange is entered only after
// `creating` is committed, and the exchange id is committed right after the call returns, together
// with the transfer request (outbox) — so a crash anywhere leaves either `intent` (nothing was
// sent), or `creating` (a call may have reached ChangeNow). From `creating` the worker never calls
// create before asking ChangeNow for exchanges carrying this command id (userId); only when none
// exists, and the last call is long enough ago that it can no longer be in flight, does it create.
// The same holds for an unclear answer (timeout, dropped connection, 5xx after sending).
//
// Many commands at once, each under its own exclusion. A run lists the due commands and steps up to
// `concurrency` (SWAP_CONCURRENCY) of them at a time. Before stepping a command the worker takes a
// session advisory lock on that command's key (swapCommandLock) with a try, on a connection it
// keeps for the whole step — every read and write of the step goes through that connection — and it
// re-reads the row under the lock. So for any one command, only one worker in any process at any
// time is between "read the state" and "committed the next state": only one can decide that no
// exchange exists yet and create it. A command whose lock is taken is skipped (another worker has
// it); a stale listing is harmless because the row is read again under the lock, and every
// transition is still a compare-and-set on the state read. A SIGKILLed holder's locks go with its
// connections; a live, stalled holder keeps them, so nobody steps its commands meanwhile (a lease
// would expire under a stalled holder and let a second worker create). Two connector instances are
// safe for the same reason: the lock is PostgreSQL's, not the process's.
import { eachAtMost } from '../../core/bounded-concurrency.ts';
import type { DatabasePool, DatabasePoolConnection } from 'slonik';
import type { Logger } from '../../core/logger.ts';
import type { Decimal } from '../../core/money.ts';
import { failpoint } from '../../core/failpoints.ts';
import { insertOutboxRecords, type OutboxRecord } from '../../core/processing/outbox.ts';
import { payInBaseUnits } from './swap-intent.ts';
import { awaitsOurPayIn, nextPollDelayMs, progressOf, type ObservedExchange } from './swap-progress.ts';
import { payInTransferId, swapEventRecord, transferRequestRecord } from './swap-records.ts';
import { commandById, dueCommands, isDue, postpone, transition, type SwapCommandRow, type Transition } from './swap-store.ts';
import {
  ChangeNowRejectedError,
  ChangeNowUnavailableError,
  ExchangeAmountOutOfRangeError,
  ExchangeOutcomeUnclearError,
} from './changenow-errors.ts';
import type { ChangeNowClient } from './changenow-client.ts';
import { assertWithinRange, isSameAddress, type CurrencyPair, type ExchangeRange } from './changenow-api.ts';
import type { SwapMetrics } from './swap-metrics.ts';
import { swapCommandLock, tryLockForSession, unlockSession } from '../../db/advisory-locks.ts';

export interface SwapWorkerOptions {
  pool: DatabasePool;
  client: ChangeNowClient;
  log: Logger;
  metrics: SwapMetrics;
  now: () => Date;
  pollIntervalMs: number;
  pollIntervalMaxMs: number;
  /**
   * After a create call started, how long "no exchange found" is not yet proof that none will
   * appear: the call may still be in flight (its timeout and retries) or ChangeNow's list may lag.
   */
  createSettleMs: number;
  /** Pause before acting again on a step that failed for a transient reason. */
  retryDelayMs: number;
  /**
   * How long a command may wait for its exchange to be created before it ends FAILED with the last
   * error. Giving up is safe at any point before the pay-in: an exchange nobody pays into expires.
   */
  createDeadlineMs: number;
  batchSize?: number;
  /** Commands stepped at once (SWAP_CONCURRENCY); each holds one connection of `pool` while stepped. */
  concurrency?: number;
}

export interface SwapWorker {
  /** Advances every due command by one step (several for a fresh one). Never rejects. */
  run(): Promise<void>;
}

export function createSwapWorker(options: SwapWorkerOptions): SwapWorker {
  const { pool, client, log, metrics, now } = options;
  const concurrency = options.concurrency ?? 8;

  /** The steps of one command, every statement on `db`: the connection holding the command's lock. */
  function stepperOn(db: DatabasePoolConnection, ranges: RangesOfRun): (row: SwapCommandRow) => Promise<void> {
    async function withinTransaction(change: Transition, records: readonly OutboxRecord[]): Promise<boolean> {
      return db.transaction(async (transaction) => {
        const applied = await transition(transaction, change);
        if (applied) await insertOutboxRecords(transaction, records);
        return applied;
      });
    }

    function pairOf(row: SwapCommandRow): CurrencyPair {
      return { fromCurrency: row.from_currency, fromNetwork: row.from_network, toCurrency: row.to_currency, toNetwork: row.to_network };
    }

    function payInUnits(row: SwapCommandRow): bigint {
      return payInBaseUnits(row.from_currency, row.from_network, row.from_amount);
    }

    // The pay-in hash (when the pay-in was confirmed) goes on the FAILED event: settlement must never
    // send the payments of a conversion whose ETH left back to be converted (and paid in) again.
    async function fail(row: SwapCommandRow, reason: string, status: string | null = null, payinHash: string | null = null): Promise<void> {
      const at = now();
      const applied = await withinTransaction(
        { commandId: row.command_id, from: row.state, to: 'failed', now: at, set: { failureReason: reason, ...(status === null ? {} : { exchangeStatus: status }) } },
        [swapEventRecord(row, 'FAILED', { status, failureReason: reason, payinHash }, at)],
      );
      if (applied) {
        metrics.ended(row.command_kind, 'failed');
        log.warn({ commandId: row.command_id, kind: row.command_kind, exchangeId: row.exchange_id, reason, correlationId: row.correlation_id }, 'swap failed');
      }
    }

    async function startDirect(row: SwapCommandRow): Promise<void> {
      const at = now();
      const transferId = payInTransferId(row.command_id);
      await withinTransaction(
        { commandId: row.command_id, from: 'intent', to: 'paying_in', now: at, nextAttemptAt: new Date(at.getTime() + options.pollIntervalMaxMs), set: { transferId, payInAddress: row.payout_address } },
        [
          swapEventRecord(row, 'CREATED', { status: null, exchangeId: null, payInAddress: row.payout_address, amountFrom: row.from_amount }, at),
          transferRequestRecord(row, row.payout_address, payInUnits(row), at),
        ],
      );
      log.info({ commandId: row.command_id, to: row.payout_address, correlationId: row.correlation_id }, 'same asset on both sides: direct transfer requested, no exchange');
    }

    async function adopt(row: SwapCommandRow, exchange: { id: string; payinAddress: string; expectedAmountTo: Decimal | null }): Promise<void> {
      const at = now();
      const transferId = payInTransferId(row.command_id);
      const applied = await withinTransaction(
        {
          commandId: row.command_id,
          from: 'creating',
          to: 'paying_in',
          now: at,
          nextAttemptAt: new Date(at.getTime() + options.pollIntervalMs),
          set: {
            exchangeId: exchange.id,
            payInAddress: exchange.payinAddress,
            ...(exchange.expectedAmountTo === null ? {} : { expectedAmountTo: exchange.expectedAmountTo }),
            exchangeStatus: 'new',
            transferId,
            idlePolls: 0,
            lastError: null,
          },
        },
        [
          swapEventRecord(row, 'CREATED', { status: 'new', exchangeId: exchange.id, payInAddress: exchange.payinAddress, amountFrom: row.from_amount, amountTo: exchange.expectedAmountTo }, at),
          transferRequestRecord(row, exchange.payinAddress, payInUnits(row), at),
        ],
      );
      if (applied) {
        metrics.created(row.command_kind);
        log.info(
          { commandId: row.command_id, exchangeId: exchange.id, payInAddress: exchange.payinAddress, correlationId: row.correlation_id },
          'exchange stored; pay-in transfer requested',
        );
      }
      failpoint('changenow.after-store');
    }

    /** Exchanges ChangeNow already holds for this command; more than one means money is at risk. */
    async function existingExchange(row: SwapCommandRow): Promise<{ id: string; payinAddress: string; expectedAmountTo: Decimal | null } | null> {
      const all = await client.findExchangesByUserId(row.command_id);
      // An exchange paying somewhere else is not ours to pay into, whatever its userId says.
      const found = all.filter((exchange) => isSameAddress(row.payout_address, exchange.payoutAddress));
      if (found.length < all.length) {
        log.error({ alert: true, commandId: row.command_id, exchangeIds: all.map((exchange) => exchange.id) }, 'an exchange carrying this command id pays another address; ignored');
      }
      if (found.length > 1) {
        metrics.duplicateExchanges.inc();
        log.error(
          { alert: true, commandId: row.command_id, exchangeIds: found.map((exchange) => exchange.id), correlationId: row.correlation_id },
          'more than one exchange carries this command id; following the earliest, the others need an operator',
        );
      }
      const [earliest] = [...found].sort((left, right) => left.createdAt.getTime() - right.createdAt.getTime());
      return earliest === undefined ? null : { id: earliest.id, payinAddress: earliest.payinAddress, expectedAmountTo: earliest.expectedAmountTo };
    }

    async function create(row: SwapCommandRow): Promise<void> {
      const started = await transition(db, { commandId: row.command_id, from: row.state, to: 'creating', now: now(), set: { createStarted: true } });
      if (!started) return;
      let created;
      try {
        created = await client.createExchange({
          ...pairOf(row),
          fromAmount: row.from_amount,
          address: row.payout_address,
          refundAddress: row.refund_address,
          userId: row.command_id,
          payload: { commandId: row.command_id },
        });
      } catch (error) {
        if (error instanceof ChangeNowRejectedError) {
          await fail({ ...row, state: 'creating' }, `ChangeNow rejected the exchange: ${error.message}`);
          return;
        }
        // Unclear or unavailable: the exchange may exist. The next step looks it up first.
        const reason = error instanceof Error ? error.message : String(error);
        await postpone(db, row.command_id, 'creating', new Date(now().getTime() + options.retryDelayMs), reason);
        log.warn({ commandId: row.command_id, reason, unclear: error instanceof ExchangeOutcomeUnclearError, correlationId: row.correlation_id }, 'create call without a clear answer; will look the exchange up before anything else');
        return;
      }
      failpoint('changenow.after-create');
      await adopt({ ...row, state: 'creating' }, { id: created.id, payinAddress: created.payinAddress, expectedAmountTo: created.toAmount });
    }

    function pastCreateDeadline(row: SwapCommandRow): boolean {
      return now().getTime() - row.created_at.getTime() > options.createDeadlineMs;
    }

    async function giveUp(row: SwapCommandRow): Promise<void> {
      const waited = Math.round((now().getTime() - row.created_at.getTime()) / 1_000);
      await fail(row, `no exchange could be created within ${waited} s; last error: ${row.last_error ?? 'none recorded'}`);
    }

    async function stepIntent(row: SwapCommandRow): Promise<void> {
      if (row.route === 'direct') return startDirect(row);
      if (pastCreateDeadline(row)) return giveUp(row);
      try {
        assertWithinRange(await ranges.of(pairOf(row)), row.from_amount);
      } catch (error) {
        if (error instanceof ExchangeAmountOutOfRangeError || error instanceof ChangeNowRejectedError) {
          await fail(row, error.message);
          return;
        }
        throw error;
      }
      await create(row);
    }

    async function stepCreating(row: SwapCommandRow): Promise<void> {
      let existing;
      try {
        existing = await existingExchange(row);
      } catch (error) {
        // ChangeNow cannot even be asked. Past the deadline the command fails: whatever exchange an
        // earlier attempt may have created is never paid into, so it expires harmlessly.
        if (pastCreateDeadline(row)) return giveUp(row);
        throw error;
      }
      if (existing !== null) {
        log.info({ commandId: row.command_id, exchangeId: existing.id, correlationId: row.correlation_id }, 'found the exchange an earlier attempt created; adopting it instead of creating another');
        await adopt(row, existing);
        return;
      }
      if (pastCreateDeadline(row)) return giveUp(row);
      const settledAt = (row.create_started_at?.getTime() ?? 0) + options.createSettleMs;
      if (now().getTime() < settledAt) {
        await postpone(db, row.command_id, 'creating', new Date(settledAt), row.last_error);
        return;
      }
      log.info({ commandId: row.command_id, attempts: row.create_attempts, correlationId: row.correlation_id }, 'no exchange exists for the earlier attempt; creating it');
      await create(row);
    }

    async function stepFollow(row: SwapCommandRow): Promise<void> {
      if (row.route === 'direct' || row.exchange_id === null) {
        // Waits for the chain connector's event; nothing to ask ChangeNow.
        await postpone(db, row.command_id, row.state, new Date(now().getTime() + options.pollIntervalMaxMs), null);
        return;
      }
      const exchange = await client.getExchange(row.exchange_id);
      const observed: ObservedExchange = exchange;
      const progress = progressOf(row.exchange_status, observed);
      const at = now();
      switch (progress.kind) {
        case 'unchanged': {
          const idlePolls = row.idle_polls + 1;
          const delayMs = awaitsOurPayIn(row.state, row.exchange_status) ? options.pollIntervalMaxMs : nextPollDelayMs(idlePolls, options.pollIntervalMs, options.pollIntervalMaxMs);
          await transition(db, {
            commandId: row.command_id,
            from: row.state,
            to: row.state,
            now: at,
            nextAttemptAt: new Date(at.getTime() + delayMs),
            set: { idlePolls, lastError: null },
          });
          return;
        }
        case 'status': {
          // Still waiting for our pay-in (new → waiting): the chain event, not a poll, moves it on.
          const delayMs = awaitsOurPayIn(row.state, progress.status) ? options.pollIntervalMaxMs : options.pollIntervalMs;
          await withinTransaction(
            { commandId: row.command_id, from: row.state, to: row.state, now: at, nextAttemptAt: new Date(at.getTime() + delayMs), set: { exchangeStatus: progress.status, idlePolls: 0, lastError: null } },
            [swapEventRecord(row, 'STATUS_CHANGED', { status: progress.status, amountFrom: observed.amountFrom }, at)],
          );
          log.info({ commandId: row.command_id, exchangeId: row.exchange_id, status: progress.status, correlationId: row.correlation_id }, 'exchange status changed');
          return;
        }
        case 'finished': {
          const applied = await withinTransaction(
            {
              commandId: row.command_id,
              from: row.state,
              to: 'finished',
              now: at,
              set: { exchangeStatus: 'finished', amountFrom: progress.amountFrom, amountTo: progress.amountTo, payinHash: progress.payinHash ?? row.payin_hash, payoutHash: progress.payoutHash },
            },
            [
              swapEventRecord(
                row,
                'FINISHED',
                { status: 'finished', amountFrom: progress.amountFrom, amountTo: progress.amountTo, payinHash: progress.payinHash ?? row.payin_hash, payoutHash: progress.payoutHash },
                at,
              ),
            ],
          );
          if (applied) {
            metrics.ended(row.command_kind, 'finished');
            log.info(
              { commandId: row.command_id, exchangeId: row.exchange_id, amountTo: progress.amountTo.toFixed(), payoutHash: progress.payoutHash, correlationId: row.correlation_id },
              'exchange finished',
            );
          }
          return;
        }
        case 'failed': {
          const paidIn = row.payin_hash === null ? 'no pay-in was confirmed' : `pay-in ${row.payin_hash} was sent`;
          await fail(row, `${progress.reason}; ${paidIn}`, progress.status, row.payin_hash);
          return;
        }
      }
    }

    async function step(row: SwapCommandRow): Promise<void> {
      try {
        switch (row.state) {
          case 'intent':
            return await stepIntent(row);
          case 'creating':
            return await stepCreating(row);
          case 'paying_in':
          case 'following':
            return await stepFollow(row);
          case 'finished':
          case 'failed':
            return;
        }
      } catch (error) {
        // Transient (ChangeNow unavailable, database hiccup): the state is unchanged; try later.
        const reason = error instanceof Error ? error.message : String(error);
        metrics.stepErrors.inc({ state: row.state, kind: error instanceof ChangeNowUnavailableError ? 'changenow_unavailable' : 'other' });
        log.warn({ commandId: row.command_id, state: row.state, reason, correlationId: row.correlation_id }, 'swap step did not complete; retrying later');
        await postpone(db, row.command_id, row.state, new Date(now().getTime() + options.retryDelayMs), reason).catch((postponeError: unknown) => {
          log.error({ err: postponeError, commandId: row.command_id }, 'could not record the postponement');
        });
      }
    }

    return step;
  }

  /** Steps one command if no other worker holds it; false when it was held or no longer due. */
  async function stepExclusively(commandId: string, ranges: RangesOfRun): Promise<boolean> {
    return pool.connect(async (db) => {
      const lock = swapCommandLock(commandId);
      if (!(await tryLockForSession(db, lock))) return false;
      try {
        // Read again under the lock: the listing may predate another worker's step.
        const row = await commandById(db, commandId);
        if (row === null || !isDue(row, now())) return false;
        await stepperOn(db, ranges)(row);
        return true;
      } finally {
        await unlockSession(db, lock);
      }
    });
  }

  return {
    async run() {
      try {
        // One range answer per pair for the whole run: 1,000 payout commands share one pair, and a
        // range call each would spend a third of the shared rate budget. The next run asks again.
        const ranges = rangesOfRun(client);
        // Several rounds: a fresh command goes intent → creating → paying_in in one run.
        for (let round = 0; round < 3; round += 1) {
          const due = await dueCommands(pool, now(), options.batchSize ?? 50);
          if (due.length === 0) break;
          const stepped = await eachAtMost(concurrency, due, (row) =>
            stepExclusively(row.command_id, ranges).catch((error: unknown) => {
              // Lock or read failed (the step itself never rejects): the command stays due for the next run.
              log.error({ err: error, commandId: row.command_id }, 'could not take a swap command for a step');
              return false;
            }),
          );
          if (!stepped.includes(true)) break;
        }
        await metrics.observeStates(pool);
      } catch (error) {
        log.error({ err: error }, 'swap worker run failed; the next trigger runs it again');
      }
    },
  };
}

/** ChangeNow's range per currency pair, asked once per worker run (an answer or its error). */
interface RangesOfRun {
  of(pair: CurrencyPair): Promise<ExchangeRange>;
}

function rangesOfRun(client: ChangeNowClient): RangesOfRun {
  const asked = new Map<string, Promise<ExchangeRange>>();
  return {
    of(pair) {
      const key = `${pair.fromCurrency}/${pair.fromNetwork}→${pair.toCurrency}/${pair.toNetwork}`;
      let range = asked.get(key);
      if (range === undefined) {
        // An error is kept for the run too: every command of the pair would meet the same outage
        // and postpone its step, without one more request each.
        range = client.range(pair);
        range.catch(() => undefined);
        asked.set(key, range);
      }
      return range;
    },
  };
}

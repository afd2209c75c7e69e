// What an operator does with a quarantined IPN (see processors/webhook/ipn-quarantine.ts): list,
// inspect, reinject a corrected body, or dismiss it with a reason. Used by the admin API and the CLI.
//
// Reinjection goes through exactly what a webhook request goes through after its signature: the
// same validateIpn with the same limits, then the same payment intake (receipt, the
// webhook_payments row that dedupes on payment id, the PaymentReceived record in the outbox, which
// this process's relay publishes). The quarantined row is locked at the start of the
// intake's transaction and marked reinjected in it, so a payment can be accepted only together
// with its row's resolution, and a second reinjection of the same row is refused. A payment the
// webhook accepted meanwhile (NOWPayments sent a corrected IPN) comes back as a duplicate:
// nothing is produced twice. The admin token stands in for NOWPayments' signature here.
import { parse as parseLosslessJson } from 'lossless-json';
import type { DatabasePool } from 'slonik';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { ipnLimitsOf } from '../webhook/start-webhook.ts';
import { IpnValidationError, validateIpn, type IpnLimits } from '../webhook/ipn-notification.ts';
import { canonicalIpnJson } from '../webhook/ipn-signature.ts';
import { createPaymentIntake, type IntakeOutcome, type PaymentIntake } from '../webhook/payment-intake.ts';
import {
  listQuarantinedIpns,
  loadQuarantinedIpn,
  lockQuarantinedIpn,
  markDismissed,
  markReinjected,
  type QuarantinedIpn,
  type QuarantineListOptions,
} from '../webhook/ipn-quarantine.ts';
import { isJsonObject, problem, RequestValidationError } from '../../core/http/request-validation.ts';

export class QuarantineNotFoundError extends Error {
  constructor(readonly quarantineId: string) {
    super(`No quarantined IPN ${quarantineId}.`);
  }
}

/** The row was resolved already (by another operator, or by an earlier attempt that committed). */
export class QuarantineResolvedError extends Error {
  constructor(readonly row: QuarantinedIpn) {
    super(`Quarantined IPN ${row.quarantine_id} is already ${row.state}${row.resolved_by === null ? '' : ` by ${row.resolved_by}`}.`);
  }
}

/** What to reinject: a whole corrected body, or fields replaced in the quarantined one. */
export type Correction = { kind: 'body'; body: Record<string, unknown> } | { kind: 'overrides'; overrides: Record<string, unknown> };

export interface ReinjectRequest {
  correction: Correction;
  actor: string;
  note: string | null;
  correlationId: string;
}

export interface QuarantineServiceOptions {
  pool: DatabasePool;
  intake: PaymentIntake;
  limits: IpnLimits;
  log: Logger;
  now: () => Date;
}

export interface QuarantineService {
  list(options: QuarantineListOptions): Promise<readonly QuarantinedIpn[]>;
  show(quarantineId: string): Promise<QuarantinedIpn>;
  reinject(quarantineId: string, request: ReinjectRequest): Promise<{ outcome: IntakeOutcome; row: QuarantinedIpn }>;
  dismiss(quarantineId: string, request: { actor: string; reason: string; correlationId: string }): Promise<QuarantinedIpn>;
}

/** The corrected body: the given one, or the quarantined body with the overrides applied (null sets null). */
export function correctedBody(quarantinedBody: string, correction: Correction): Record<string, unknown> {
  if (correction.kind === 'body') return correction.body;
  const original: unknown = parseLosslessJson(quarantinedBody);
  const base = isJsonObject(original) ? original : {};
  return { ...base, ...correction.overrides };
}

export function createQuarantineService(options: QuarantineServiceOptions): QuarantineService {
  const { pool, intake, log } = options;

  async function show(quarantineId: string): Promise<QuarantinedIpn> {
    const row = await loadQuarantinedIpn(pool, quarantineId);
    if (row === null) throw new QuarantineNotFoundError(quarantineId);
    return row;
  }

  return {
    list: (listOptions) => listQuarantinedIpns(pool, listOptions),
    show,

    async reinject(quarantineId, request) {
      const current = await show(quarantineId);
      if (current.state !== 'held') throw new QuarantineResolvedError(current);
      const body = correctedBody(current.body, request.correction);
      let notification;
      try {
        notification = validateIpn(body, options.limits, options.now());
      } catch (error) {
        if (!(error instanceof IpnValidationError)) throw error;
        throw new RequestValidationError(
          error.problems.map(({ field, rule }) => problem(field, rule, `The corrected IPN's ${field} ${rule}.`)),
        );
      }
      const text = canonicalIpnJson(body);
      const outcome = await intake.accept({ notification, rawBody: text, correlationId: request.correlationId }, {
        before: async (transaction) => {
          const locked = await lockQuarantinedIpn(transaction, quarantineId);
          if (locked === null) throw new QuarantineNotFoundError(quarantineId);
          if (locked.state !== 'held') throw new QuarantineResolvedError(locked);
        },
        after: (transaction, accepted) =>
          markReinjected(transaction, quarantineId, { actor: request.actor, at: options.now(), note: request.note }, { body: text, outcome: accepted }),
      });
      log.info(
        { quarantineId, paymentId: outcome.paymentId, outcome: outcome.kind, actor: request.actor, correlationId: request.correlationId },
        'quarantined IPN reinjected',
      );
      return { outcome, row: await show(quarantineId) };
    },

    async dismiss(quarantineId, request) {
      await pool.transaction(async (transaction) => {
        const locked = await lockQuarantinedIpn(transaction, quarantineId);
        if (locked === null) throw new QuarantineNotFoundError(quarantineId);
        if (locked.state !== 'held') throw new QuarantineResolvedError(locked);
        await markDismissed(transaction, quarantineId, { actor: request.actor, at: options.now(), note: request.reason });
      });
      log.info({ quarantineId, actor: request.actor, reason: request.reason, correlationId: request.correlationId }, 'quarantined IPN dismissed');
      return show(quarantineId);
    },
  };
}

/** The service over a process's own connections, with the webhook's limits and intake (admin API, CLI). */
export function createQuarantineServiceOf(resources: {
  config: Config;
  pool: DatabasePool;
  log: Logger;
  now: () => Date;
}): QuarantineService {
  const { config, pool, log, now } = resources;
  const intake = createPaymentIntake({ pool, log, now });
  return createQuarantineService({ pool, intake, limits: ipnLimitsOf(config), log, now });
}

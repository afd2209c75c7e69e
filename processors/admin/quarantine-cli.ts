// `quarantine list|show|reinject|dismiss`: the admin API's quarantine service run directly against
// PostgreSQL (an operator with the stack at hand needs no admin token), as
// `config set-threshold` does. The actor defaults to `cli:<os user>`.
import { randomUUID } from 'node:crypto';
import { parse as parseLosslessJson } from 'lossless-json';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/logger.ts';
import { createShutdown } from '../../core/shutdown.ts';
import { openProcessResources } from '../../core/processing/process-resources.ts';
import { createOutboxRelay } from '../../core/processing/outbox-relay.ts';
import type { StackEndpoints } from '../../stack/endpoints.ts';
import { parseActor } from '../../core/http/request-validation.ts';
import { defaultCliActor } from './set-threshold.ts';
import { parseDismissReason, parseQuarantineId, parseReinjectRequest, quarantineView } from './quarantine-routes.ts';
import { createQuarantineServiceOf, type Correction, type QuarantineService } from './quarantine-service.ts';

export interface QuarantineCliContext {
  config: Config;
  endpoints: StackEndpoints;
  log: Logger;
}

async function withQuarantineService<T>(context: QuarantineCliContext, run: (service: QuarantineService) => Promise<T>): Promise<T> {
  const shutdown = createShutdown({ log: context.log });
  try {
    const resources = await openProcessResources({ name: 'quarantine-cli', config: context.config, endpoints: context.endpoints, log: context.log, shutdown });
    const result = await run(createQuarantineServiceOf({ config: context.config, pool: resources.pool, log: context.log, now: () => new Date() }));
    // A reinjected payment's record is in the outbox: published now rather than by the next
    // process's relay, so `quarantine reinject` returns with the payment on its topic.
    await createOutboxRelay({ ...resources, log: context.log }).drain();
    return result;
  } finally {
    await shutdown.run('quarantine command done');
  }
}

/** A `--set field=value`: the value is JSON when it parses as JSON (numbers stay exact), else text. */
export function parseFieldAssignment(assignment: string): [string, unknown] {
  const separator = assignment.indexOf('=');
  if (separator < 1) throw new Error(`--set takes field=value, got "${assignment}"`);
  const field = assignment.slice(0, separator);
  const text = assignment.slice(separator + 1);
  try {
    return [field, parseLosslessJson(text)];
  } catch {
    return [field, text];
  }
}

export function listQuarantine(context: QuarantineCliContext, options: { state?: 'held' | 'reinjected' | 'dismissed'; limit: number }) {
  return withQuarantineService(context, async (service) => (await service.list(options)).map((row) => quarantineView(row)));
}

export function showQuarantine(context: QuarantineCliContext, quarantineId: string) {
  const id = parseQuarantineId(quarantineId);
  return withQuarantineService(context, async (service) => quarantineView(await service.show(id), true));
}

export interface ReinjectCliOptions {
  /** The corrected IPN's text (from a file or stdin), or field assignments to apply to the quarantined body. */
  bodyText?: string;
  assignments: readonly string[];
  note?: string;
  actor?: string;
}

export function reinjectQuarantine(context: QuarantineCliContext, quarantineId: string, options: ReinjectCliOptions) {
  const requestBody: Record<string, unknown> = {};
  if (options.bodyText !== undefined) requestBody['body'] = parseLosslessJson(options.bodyText);
  if (options.assignments.length > 0) requestBody['overrides'] = Object.fromEntries(options.assignments.map(parseFieldAssignment));
  if (options.note !== undefined) requestBody['note'] = options.note;
  // The same request rules as POST /api/quarantine/:id/reinject.
  const { correction, note }: { correction: Correction; note: string | null } = parseReinjectRequest(requestBody);
  const actor = parseActor(options.actor ?? defaultCliActor());
  const id = parseQuarantineId(quarantineId);
  return withQuarantineService(context, async (service) => {
    const { outcome, row } = await service.reinject(id, { correction, note, actor, correlationId: randomUUID() });
    return { outcome: outcome.kind, payment_id: outcome.paymentId, quarantined: quarantineView(row) };
  });
}

export function dismissQuarantine(context: QuarantineCliContext, quarantineId: string, options: { reason: string; actor?: string }) {
  const actor = parseActor(options.actor ?? defaultCliActor());
  const id = parseQuarantineId(quarantineId);
  const reason = parseDismissReason(options.reason);
  return withQuarantineService(context, async (service) => quarantineView(await service.dismiss(id, { actor, reason, correlationId: randomUUID() })));
}

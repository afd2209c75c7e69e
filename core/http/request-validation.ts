// Shared rules of request bodies and paths (the admin API's, and the settlement routes it mounts):
// every problem names its field and rule, and money arrives
// only as a decimal string read exactly into a Decimal — a JSON number would already have passed
// through a float in most clients before it reached us, so it is refused rather than trusted.
import { LosslessNumber } from 'lossless-json';
import { ValidationError } from '../errors.ts';
import { Decimal, plainDecimalPattern } from '../money.ts';
import { clientIdPattern, clientIdRule } from '../client-payout-config.ts';

export interface RequestProblem {
  readonly field: string;
  readonly rule: string;
  readonly message: string;
  /** A more specific error code than validation_failed (unsupported_payout_pair, invalid_wallet_address). */
  readonly code?: string;
}

/** One or more broken rules in a request; the first is the headline, all are listed. */
export class RequestValidationError extends ValidationError {
  readonly problems: readonly RequestProblem[];
  readonly code: string;

  constructor(problems: readonly RequestProblem[]) {
    const first = problems[0] ?? { field: 'body', rule: 'valid request', message: 'The request is not valid.' };
    super(first.field, first.rule, problems.map((problem) => problem.message).join(' '));
    this.problems = problems;
    this.code = first.code ?? 'validation_failed';
  }
}

export function problem(field: string, rule: string, message: string, code?: string): RequestProblem {
  return code === undefined ? { field, rule, message } : { field, rule, message, code };
}

/** A client id in a path: the shape the `clients` table accepts, or a 422 naming clientId. */
export function parseClientId(text: string): string {
  if (!clientIdPattern.test(text)) {
    throw new RequestValidationError([problem('clientId', clientIdRule, `The client id must be an optional minus and 1–14 digits, got "${text.slice(0, 40)}".`)]);
  }
  return text;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof LosslessNumber);
}

export const moneyAsStringRule = 'money as a decimal string';

export interface MoneyBounds {
  /** Inclusive lower bound; absent means "greater than zero". */
  readonly min?: Decimal;
  /** Inclusive upper bound. */
  readonly max: Decimal;
  /** Decimal places the value may have (the scale of its SQL/Avro column). */
  readonly scale: number;
}

/** The amount, or the one problem that stops it being one. */
export function parseMoney(field: string, value: unknown, bounds: MoneyBounds): Decimal | RequestProblem {
  if (value instanceof LosslessNumber || typeof value === 'number') {
    return problem(field, moneyAsStringRule, `${field} must be a decimal string such as "250.00", not a JSON number.`);
  }
  if (typeof value !== 'string') {
    return problem(field, 'decimal string', `${field} must be a decimal string such as "250.00".`);
  }
  if (/^-(0|[1-9]\d*)(\.\d+)?$/.test(value)) {
    return problem(field, 'positive', `${field} must be positive, got "${value}".`);
  }
  if (!plainDecimalPattern.test(value)) {
    return problem(field, 'decimal string', `${field} must be a plain decimal such as "250.00", got "${value.slice(0, 40)}".`);
  }
  const amount = new Decimal(value);
  if (amount.decimalPlaces() > bounds.scale) {
    return problem(field, `at most ${bounds.scale} decimal places`, `${field} has more than ${bounds.scale} decimal places.`);
  }
  if (bounds.min === undefined ? amount.lte(0) : amount.lt(bounds.min)) {
    return bounds.min === undefined
      ? problem(field, 'greater than 0', `${field} must be greater than 0.`)
      : problem(field, `minimum ${bounds.min.toFixed()}`, `${field} must be at least ${bounds.min.toFixed()}; lower thresholds make fees a large share of each payout.`);
  }
  if (amount.gt(bounds.max)) {
    return problem(field, `maximum ${bounds.max.toFixed()}`, `${field} must be at most ${bounds.max.toFixed()}.`);
  }
  return amount;
}

export function isProblem(value: unknown): value is RequestProblem {
  return typeof value === 'object' && value !== null && 'rule' in value && 'field' in value;
}

/** Unknown fields are refused: a misspelt `threshold_usd` must not be silently ignored. */
export function unknownFieldProblems(body: Record<string, unknown>, known: readonly string[]): RequestProblem[] {
  return Object.keys(body)
    .filter((field) => !known.includes(field))
    .map((field) => problem(field, 'unknown field', `${field} is not a field of this request (known: ${known.join(', ')}).`));
}

// Who made a change, for the audit trail: a name, an e-mail or a service id, never free text. Over
// HTTP the actor is the admin token's name (admin-tokens.ts); this rule is for the CLI's --actor.
const actorPattern = /^[A-Za-z0-9._@:+-]{1,64}$/;
export const actorHeader = 'x-actor';
export const actorNoteHeader = 'x-actor-note';
export const defaultActor = 'admin';
/** The pipeline's own changes (the wallet cooldown sweep) are recorded as system:…; nobody else's. */
export const systemActorPrefix = 'system:';
const systemPrefixRule = 'not starting with system: (reserved for the pipeline itself)';
export const actorNoteLengthMax = 200;
// Printable ASCII: a header carries bytes, not text, so anything else would be stored as mojibake;
// and no control characters (PostgreSQL refuses NUL in text, a log line must not be forgeable).
const actorNotePattern = new RegExp(`^[\\x20-\\x7e]{1,${actorNoteLengthMax}}$`);

function isSystemActor(text: string): boolean {
  return text.toLowerCase().startsWith(systemActorPrefix);
}

function systemPrefixProblem(field: string): RequestValidationError {
  return new RequestValidationError([problem(field, systemPrefixRule, `The ${field} header must not start with ${systemActorPrefix}: that namespace records what the pipeline itself did.`)]);
}

export function parseActor(header: string | undefined): string {
  if (header === undefined || header === '') return defaultActor;
  if (!actorPattern.test(header)) {
    throw new RequestValidationError([
      problem(actorHeader, 'letters, digits and ._@:+- (1–64 characters)', `The ${actorHeader} header must be 1–64 characters of letters, digits and ._@:+-.`),
    ]);
  }
  if (isSystemActor(header)) throw systemPrefixProblem(actorHeader);
  return header;
}

export interface RequestActor {
  /** Recorded as changed_by / requested_by: the name of the token that authenticated the request. */
  readonly actor: string;
  readonly note: string | null;
}

/**
 * Who acts for a request: always the token's name. `X-Actor-Note` is free text kept beside it.
 * `X-Actor`, which used to name the actor, is now read as the note (so existing scripts keep their
 * label in the history), and a claim to be the system is refused rather than quietly recorded.
 */
export function parseRequestActor(tokenName: string, headers: { actor: string | undefined; note: string | undefined }): RequestActor {
  const legacy = headers.actor === undefined || headers.actor === '' ? undefined : parseActor(headers.actor);
  const noteText = headers.note === undefined || headers.note === '' ? undefined : headers.note;
  if (legacy !== undefined && noteText !== undefined) {
    throw new RequestValidationError([
      problem(actorHeader, `not together with ${actorNoteHeader}`, `Send the note in ${actorNoteHeader} only; ${actorHeader} is its older name.`),
    ]);
  }
  if (noteText !== undefined) {
    if (!actorNotePattern.test(noteText)) {
      throw new RequestValidationError([
        problem(
          actorNoteHeader,
          `printable ASCII, 1–${actorNoteLengthMax} characters`,
          `The ${actorNoteHeader} header must be 1–${actorNoteLengthMax} printable ASCII characters.`,
        ),
      ]);
    }
    if (isSystemActor(noteText)) throw systemPrefixProblem(actorNoteHeader);
  }
  // Token names cannot hold a colon; checked again here because a system: actor must never be
  // written on behalf of a request, whatever a future token table allows.
  if (isSystemActor(tokenName)) throw new Error(`token name ${tokenName} is in the reserved system: namespace`);
  return { actor: tokenName, note: noteText ?? legacy ?? null };
}

// One error root for the whole pipeline. `retriable` tells the shared retry whether trying again
// can help (a broker that is down) or cannot (a record that breaks a rule). Subclasses add the
// context an operator needs to find the problem.
export interface PipelineErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  context?: Record<string, unknown>;
}

export class PipelineError extends Error {
  readonly retriable: boolean;
  readonly context: Record<string, unknown>;

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }
}

/** A dependency (Kafka, registry, PostgreSQL, an API) cannot be reached right now. */
export class UnavailableError extends PipelineError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(message, { ...options, retriable: true });
  }
}

/** Input broke a rule; retrying the same input can never succeed. */
export class ValidationError extends PipelineError {
  readonly field: string;
  readonly rule: string;

  constructor(field: string, rule: string, message: string, options: PipelineErrorOptions = {}) {
    super(message, { ...options, retriable: false, context: { ...options.context, field, rule } });
    this.field = field;
    this.rule = rule;
  }
}

/** Something the code itself guarantees turned out false: a programmer error. Crash, do not handle. */
export class InvariantViolation extends PipelineError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super(message, { retriable: false, context });
  }
}

export function assertInvariant(condition: unknown, message: string, context: Record<string, unknown> = {}): asserts condition {
  if (!condition) throw new InvariantViolation(message, context);
}

export function isRetriable(error: unknown): boolean {
  return error instanceof PipelineError && error.retriable;
}

// The runtime micro-batch threshold as the admin API and the CLI accept it: a USD amount written
// as a decimal string, greater than zero, at most MICRO_BATCH_THRESHOLD_MAX_USD, with at most the
// 8 decimals of the Avro decimal(28, 8) it is published in.
import type { Config } from '../../core/config.ts';
import { Decimal, usdScale } from '../../core/money.ts';
import { isJsonObject, isProblem, parseMoney, problem, RequestValidationError, unknownFieldProblems } from '../../core/http/request-validation.ts';

export const microBatchThresholdSetting = 'micro_batch_threshold_usd';

export interface MicroBatchThresholdLimits {
  readonly max: Decimal;
  /** Used until a runtime value was ever set (MICRO_BATCH_THRESHOLD_USD). */
  readonly default: Decimal;
}

export function microBatchThresholdLimitsOf(config: Config): MicroBatchThresholdLimits {
  return { max: new Decimal(config.MICRO_BATCH_THRESHOLD_MAX_USD), default: new Decimal(config.MICRO_BATCH_THRESHOLD_USD) };
}

export function parseMicroBatchThreshold(value: unknown, limits: MicroBatchThresholdLimits): Decimal {
  const parsed = parseMoney('value', value, { max: limits.max, scale: usdScale });
  if (isProblem(parsed)) throw new RequestValidationError([parsed]);
  return parsed;
}

/** The body of PUT /api/config/micro-batch-threshold: `{ "value": "25.5" }`. */
export function parseMicroBatchThresholdRequest(body: unknown, limits: MicroBatchThresholdLimits): Decimal {
  if (!isJsonObject(body)) throw new RequestValidationError([problem('body', 'JSON object', 'The body must be a JSON object such as {"value": "25.5"}.')]);
  const unknown = unknownFieldProblems(body, ['value']);
  if (unknown.length > 0) throw new RequestValidationError(unknown);
  if (body['value'] === undefined) throw new RequestValidationError([problem('value', 'required', 'value is required, e.g. {"value": "25.5"}.')]);
  return parseMicroBatchThreshold(body['value'], limits);
}

// The body of POST /api/conversion-batches/:batchId/recovery (and the options of `cli recovery
// resolve`), checked with no I/O: `resolution` is refund_received, recovered or written_off;
// `usdt_amount` (a decimal string, at most 6 decimals) is required for recovered and refused
// otherwise; `note` says why, required for written_off (who is the X-Actor header).
import { Decimal, usdtScale } from '../../core/money.ts';
import { recoveryResolutions, type RecoveryInput, type RecoveryResolution } from './conversion-recovery.ts';
import { isJsonObject, isProblem, parseMoney, problem, RequestValidationError, unknownFieldProblems, type RequestProblem } from '../../core/http/request-validation.ts';

const noteLengthMax = 500;
/** Far above any micro-batch; only a bound against a typo's extra digits. */
const recoveredUsdtMax = new Decimal('100000000');

function isResolution(value: unknown): value is RecoveryResolution {
  return typeof value === 'string' && (recoveryResolutions as readonly string[]).includes(value);
}

export function parseRecoveryRequest(body: unknown): RecoveryInput {
  if (!isJsonObject(body)) throw new RequestValidationError([problem('body', 'a JSON object', 'The body must be a JSON object {resolution, usdt_amount?, note?}.')]);
  const problems: RequestProblem[] = unknownFieldProblems(body, ['resolution', 'usdt_amount', 'note']);
  const { resolution, usdt_amount: usdtAmount, note } = body;
  if (!isResolution(resolution)) problems.push(problem('resolution', recoveryResolutions.join(' | '), `resolution must be one of ${recoveryResolutions.join(', ')}.`));
  let noteText: string | null = null;
  if (note !== undefined && note !== null) {
    if (typeof note !== 'string' || note.trim() === '' || note.length > noteLengthMax) problems.push(problem('note', `text of 1–${noteLengthMax} characters`, `note must be text of 1–${noteLengthMax} characters.`));
    else noteText = note.trim();
  }
  if (resolution === 'written_off' && noteText === null && !problems.some((entry) => entry.field === 'note')) {
    problems.push(problem('note', 'required for written_off', 'A write-off must say why (note).'));
  }
  let amount: Decimal | null = null;
  if (resolution === 'recovered') {
    const parsed = usdtAmount === undefined ? problem('usdt_amount', 'required for recovered', 'usdt_amount (the USDT recovered) is required for recovered.') : parseMoney('usdt_amount', usdtAmount, { max: recoveredUsdtMax, scale: usdtScale });
    if (isProblem(parsed)) problems.push(parsed);
    else amount = parsed;
  } else if (usdtAmount !== undefined) {
    problems.push(problem('usdt_amount', 'only for recovered', 'usdt_amount is only given with resolution recovered.'));
  }
  if (problems.length > 0) throw new RequestValidationError(problems);
  if (resolution === 'recovered' && amount !== null) return { resolution, usdtAmount: amount, note: noteText };
  if (resolution === 'written_off' && noteText !== null) return { resolution, note: noteText };
  return { resolution: 'refund_received', note: noteText };
}

// The rules a ClientPayoutConfig record from the compacted client-payout-configs topic must keep
// to become a `clients` row (the row shape itself and "which wallet is in force" are shared:
// core/client-payout-config.ts).
import { usdScale } from '../../core/money.ts';
import type { ClientPayoutConfig } from '../../schemas/generated/records.ts';
import { clientIdPattern } from '../../core/client-payout-config.ts';
import type { RuleViolation } from './payment-rules.ts';
import { integerDigitsMax } from './platform-fee.ts';

/**
 * The first rule the record breaks, or null. These are the `clients` table's CHECKs: the admin API
 * validates far more (addresses per network, threshold bounds) before it publishes, so a record
 * failing here was not written by it and is dead-lettered rather than half-applied.
 */
export function clientConfigViolation(config: ClientPayoutConfig): RuleViolation | null {
  if (!clientIdPattern.test(config.client_id)) {
    return { field: 'client_id', rule: 'client-id', reason: `client_id "${config.client_id}" is not 1–14 digits with an optional minus` };
  }
  if (!Number.isSafeInteger(config.revision) || config.revision < 1) {
    return { field: 'revision', rule: 'revision', reason: `revision must be a positive integer, got ${config.revision}` };
  }
  const threshold = config.threshold_usd;
  if (config.strategy === 'THRESHOLD' && threshold === null) {
    return { field: 'threshold_usd', rule: 'threshold-required', reason: 'the threshold strategy needs threshold_usd' };
  }
  if (threshold !== null && (!threshold.isFinite() || threshold.lte(0) || threshold.decimalPlaces() > usdScale || threshold.truncated().toFixed().length > integerDigitsMax)) {
    return { field: 'threshold_usd', rule: 'positive', reason: `threshold_usd must be a positive USD amount, got ${threshold.toFixed()}` };
  }
  for (const field of ['wallet_address', 'payout_currency', 'payout_network'] as const) {
    if (config[field].trim() === '') return { field, rule: 'present', reason: `${field} is required` };
  }
  if ((config.pending_wallet_address === null) !== (config.pending_wallet_effective_at === null)) {
    return { field: 'pending_wallet_address', rule: 'pending-wallet-pair', reason: 'a pending wallet needs its effective time, and only then' };
  }
  return null;
}

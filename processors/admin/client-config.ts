// A client's payout configuration as the admin API accepts it: the seeds' registration rules
// (threshold strategy needs a threshold of at least $50, configurable, and below a ceiling), a
// (currency, network) pair the exchange converts into, and a wallet address valid for that pair.
import { usdScale, type Decimal } from '../../core/money.ts';
import { payoutStrategyNames, type PayoutStrategyName } from '../../core/client-payout-config.ts';
import { describeSupportedPairs, findPayoutPair, isSupportedCurrency, isValidWalletFor, networksOf, walletRuleOf } from './payout-currencies.ts';
import { walletAddressLengthMax } from './wallet-address.ts';
import { findUnspendableAddress } from './unspendable-addresses.ts';
import {
  isJsonObject,
  isProblem,
  parseMoney,
  problem,
  RequestValidationError,
  unknownFieldProblems,
  type RequestProblem,
} from '../../core/http/request-validation.ts';


export interface ClientConfigRequest {
  readonly strategy: PayoutStrategyName;
  readonly threshold_usd: Decimal | null;
  readonly wallet_address: string;
  readonly payout_currency: string;
  readonly payout_network: string;
}

export interface ClientThresholdBounds {
  readonly min: Decimal;
  readonly max: Decimal;
}


export const unspendableWalletRule = 'not a burn, zero or system address';

const fields = ['strategy', 'threshold_usd', 'wallet_address', 'payout_currency', 'payout_network'] as const;

function requiredText(body: Record<string, unknown>, field: string, problems: RequestProblem[]): string | undefined {
  const value = body[field];
  if (typeof value !== 'string' || value === '') {
    problems.push(problem(field, 'required string', `${field} is required and must be a string.`));
    return undefined;
  }
  return value;
}

/** Every broken rule of the body at once, so a form can show them together. */
export function parseClientConfigRequest(body: unknown, bounds: ClientThresholdBounds): ClientConfigRequest {
  if (!isJsonObject(body)) {
    throw new RequestValidationError([problem('body', 'JSON object', 'The body must be a JSON object.')]);
  }
  const problems: RequestProblem[] = unknownFieldProblems(body, fields);

  const strategyValue = body['strategy'];
  const strategy = payoutStrategyNames.find((name) => name === strategyValue);
  if (strategy === undefined) {
    problems.push(problem('strategy', `one of ${payoutStrategyNames.join(', ')}`, `strategy must be one of ${payoutStrategyNames.join(', ')}.`));
  }

  let threshold: Decimal | null = null;
  const thresholdValue = body['threshold_usd'];
  const thresholdGiven = thresholdValue !== undefined && thresholdValue !== null;
  if (strategy === 'threshold') {
    if (!thresholdGiven) {
      problems.push(problem('threshold_usd', 'required for strategy threshold', 'threshold_usd is required for the threshold strategy (recommended $100–500 for Monero).'));
    } else {
      const parsed = parseMoney('threshold_usd', thresholdValue, { min: bounds.min, max: bounds.max, scale: usdScale });
      if (isProblem(parsed)) problems.push(parsed);
      else threshold = parsed;
    }
  } else if (strategy === 'instant' && thresholdGiven) {
    // Refused, not ignored: a threshold sent with `instant` means the caller expects batching that
    // would not happen, and every payment would be paid out (and charged fees) one by one.
    problems.push(problem('threshold_usd', 'absent for strategy instant', 'threshold_usd must be absent (or null) for the instant strategy.'));
  }

  const currencyText = requiredText(body, 'payout_currency', problems);
  const networkText = requiredText(body, 'payout_network', problems);
  const wallet = requiredText(body, 'wallet_address', problems);
  // ChangeNow's tickers and networks are lower case; "XMR" means the same currency.
  const currency = currencyText?.toLowerCase();
  const network = networkText?.toLowerCase();
  if (currency !== undefined && network !== undefined) {
    const pair = findPayoutPair(currency, network);
    if (pair === undefined) {
      problems.push(
        isSupportedCurrency(currency)
          ? problem(
              'payout_network',
              `supported network for ${currency}: ${networksOf(currency).join(', ')}`,
              `${currency} is paid out on ${networksOf(currency).join(', ')}, not ${network}.`,
              'unsupported_payout_pair',
            )
          : problem(
              'payout_currency',
              `supported pair: ${describeSupportedPairs()}`,
              `${currency}/${network} is not a pair the exchange converts into; supported: ${describeSupportedPairs()}.`,
              'unsupported_payout_pair',
            ),
      );
    } else if (wallet !== undefined && !isValidWalletFor(pair, wallet)) {
      const unspendable = findUnspendableAddress(pair.addressFormat, wallet);
      problems.push(
        unspendable !== undefined
          ? problem(
              'wallet_address',
              unspendableWalletRule,
              `wallet_address is ${unspendable.reason}: nobody can spend from it on ${pair.description}, so a payout there would be lost.`,
              'unspendable_wallet_address',
            )
          : problem(
              'wallet_address',
              walletRuleOf(pair),
              `wallet_address is not a valid ${pair.description} address: expected ${walletRuleOf(pair)}.`,
              'invalid_wallet_address',
            ),
      );
    }
  }
  if (wallet !== undefined && wallet.length > walletAddressLengthMax) {
    problems.push(problem('wallet_address', `at most ${walletAddressLengthMax} characters`, `wallet_address is longer than ${walletAddressLengthMax} characters.`));
  }

  if (problems.length > 0 || strategy === undefined || currency === undefined || network === undefined || wallet === undefined) {
    throw new RequestValidationError(problems);
  }
  return { strategy, threshold_usd: threshold, wallet_address: wallet, payout_currency: currency, payout_network: network };
}

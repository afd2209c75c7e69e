// The chain connector's settings, taken from the configuration once at start-up and checked there:
// a fee cap that is not a whole number of wei stops the process with a message naming the variable.
// (The host wallet's key is read by connectors/host-wallet.ts and handed to the signer only.)
import type { Config } from '../../core/config.ts';
import { PipelineError } from '../../core/errors.ts';
import { Decimal, gweiScale, toBaseUnits } from '../../core/money.ts';

export interface FeeCaps {
  readonly maxFeePerGasWei: bigint;
  readonly maxPriorityFeePerGasWei: bigint;
}

export interface ChainSettings {
  readonly confirmations: number;
  readonly feeCaps: FeeCaps;
  readonly droppedAfterMs: number;
  readonly stuckAfterMs: number;
  readonly gasLimitMax: bigint;
  readonly pollIntervalMs: number;
  readonly rpcTimeoutMs: number;
}


/** `2.5` gwei → 2_500_000_000n wei; a value finer than one wei is a configuration error. */
export function gweiToWei(gwei: string, variable: string): bigint {
  try {
    return toBaseUnits(new Decimal(gwei), gweiScale);
  } catch {
    throw new PipelineError(`Invalid configuration:\n  ${variable}: ${gwei} gwei is not a whole number of wei (at most ${gweiScale} decimals)`);
  }
}

export function chainSettingsOf(config: Config): ChainSettings {
  return {
    confirmations: config.CHAIN_CONFIRMATIONS,
    feeCaps: {
      maxFeePerGasWei: gweiToWei(config.CHAIN_MAX_FEE_PER_GAS_GWEI, 'CHAIN_MAX_FEE_PER_GAS_GWEI'),
      maxPriorityFeePerGasWei: gweiToWei(config.CHAIN_MAX_PRIORITY_FEE_GWEI, 'CHAIN_MAX_PRIORITY_FEE_GWEI'),
    },
    droppedAfterMs: config.CHAIN_DROPPED_AFTER,
    stuckAfterMs: config.CHAIN_STUCK_AFTER,
    gasLimitMax: BigInt(config.CHAIN_GAS_LIMIT_MAX),
    pollIntervalMs: config.CHAIN_POLL_INTERVAL,
    rpcTimeoutMs: config.CHAIN_RPC_TIMEOUT,
  };
}

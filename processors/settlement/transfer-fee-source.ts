// The I/O behind a direct payout's fee estimate (transfer-fee.ts has the arithmetic and why): the
// node's base fee and suggested tip over JSON-RPC, and the rate of the last finished conversion
// from the database. Called by the quote cache before a window evaluation, never inside its
// transaction; any failure (node down, no conversion yet) rejects, and the cache turns it into an
// unavailable quote — a threshold payout then waits as quote_unavailable, a forced one pays anyway.
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { Decimal } from '../../core/money.ts';
import { decimalColumn } from '../../db/column-types.ts';
import type { CurrencyPair } from '../../connectors/changenow/changenow-client.ts';
import type { EvmRpc } from '../../connectors/chain/evm-rpc.ts';
import { payInAssetOf } from '../../connectors/changenow/swap-intent.ts';
import { gasPriceWeiOf, transferFeeUsdt, transferGasOf } from './transfer-fee.ts';

/** The estimated gas of one direct transfer of the pair's source asset, in USDT. */
export type TransferFeeSource = (pair: CurrencyPair) => Promise<Decimal>;

export interface TransferFeeSourceOptions {
  rpc: Pick<EvmRpc, 'latestBlock' | 'maxPriorityFeePerGas'>;
  database: CommonQueryMethods;
  /** CHAIN_MAX_PRIORITY_FEE_GWEI in wei: the chain connector never tips more. */
  maxPriorityFeePerGasWei: bigint;
}

const conversionRate = z.object({ usdt_received: decimalColumn, eth_sent: decimalColumn });

export function createTransferFeeSource(options: TransferFeeSourceOptions): TransferFeeSource {
  return async (pair) => {
    const asset = payInAssetOf(pair.fromCurrency, pair.fromNetwork);
    if (asset === undefined) throw new Error(`the host wallet cannot send ${pair.fromCurrency}/${pair.fromNetwork}`);
    const block = await options.rpc.latestBlock();
    if (block.baseFeePerGasWei === null) throw new Error('the chain reports no base fee (EIP-1559 is required)');
    const tipWei = await options.rpc.maxPriorityFeePerGas();
    const last = await options.database.maybeOne(sql.type(conversionRate)`
      SELECT usdt_received, coalesce(eth_sent, total_eth) AS eth_sent FROM conversion_batches
      WHERE state = 'finished' ORDER BY finished_at DESC, batch_id DESC LIMIT 1`);
    if (last === null) throw new Error('no finished conversion yet to value ETH in USDT');
    return transferFeeUsdt({
      gasUnits: transferGasOf(asset),
      gasPriceWei: gasPriceWeiOf(block.baseFeePerGasWei, tipWei, options.maxPriorityFeePerGasWei),
      usdtPerEth: last.usdt_received.div(last.eth_sent),
    });
  };
}

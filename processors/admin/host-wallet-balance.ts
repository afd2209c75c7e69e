// The host wallet's ETH and USDT balances for the console's overview, read from the EVM node the
// stack already names (EVM_RPC_URL) with the chain connector's own JSON-RPC client and ERC-20
// calldata — no new dependency. The address is the one the chain connector signs with: its row in
// chain_senders (written on its first transfer), else the address of HOST_WALLET_PRIVATE_KEY /
// HOST_WALLET_KEY_FILE when this process is given it. Neither known, or the node not answering:
// null, never a guessed figure.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { Config } from '../../core/config.ts';
import { Decimal } from '../../core/money.ts';
import { createEvmRpc } from '../../connectors/chain/evm-rpc.ts';
import { balanceOfCallData, decodeBalanceOf } from '../../connectors/chain/transfer-transaction.ts';
import { hostWalletAddress } from '../../connectors/host-wallet.ts';
import type { HostWalletFigures } from './overview.ts';

export type HostWalletReader = () => Promise<HostWalletFigures | null>;

const senderRow = z.object({ sender_address: z.string() });

export function createHostWalletReader(options: { pool: DatabasePool; config: Config; evmRpcUrl: string; usdtContractAddress: string }): HostWalletReader {
  const rpc = createEvmRpc({ url: options.evmRpcUrl, timeoutMs: 2_000 });
  const lowEth = new Decimal(options.config.HOST_WALLET_LOW_ETH);
  const lowUsdt = new Decimal(options.config.HOST_WALLET_LOW_USDT);
  let configuredAddress: string | null | undefined;

  function addressFromConfig(): string | null {
    if (configuredAddress !== undefined) return configuredAddress;
    try {
      configuredAddress = hostWalletAddress(options.config);
    } catch {
      // No key in this process's configuration (the admin needs none): only chain_senders can tell.
      configuredAddress = null;
    }
    return configuredAddress;
  }

  return async () => {
    const sender = await options.pool.maybeOne(sql.type(senderRow)`SELECT sender_address FROM chain_senders ORDER BY updated_at DESC LIMIT 1`);
    const address = sender?.sender_address ?? addressFromConfig();
    if (address === null) return null;
    try {
      const [ethWei, usdtResult] = await Promise.all([rpc.balance(address, 'latest'), rpc.call({ to: options.usdtContractAddress, data: balanceOfCallData(address) }, 'latest')]);
      return { address, ethWei, usdtBaseUnits: decodeBalanceOf(usdtResult), lowEth, lowUsdt };
    } catch {
      return null;
    }
  };
}

// An ethers provider with explicit settings instead of ethers' defaults, for everything of ours that
// talks to the local EVM (the stack's deployment, the exchange simulator, test helpers).
import { FetchRequest, JsonRpcProvider, Network } from 'ethers';
import { localChainId } from './local-wallets.ts';

export interface EvmProviderOptions {
  /** The chain the node serves; default the local chain (31337). */
  chainId?: bigint;
  /** A paused or hung node otherwise keeps a call waiting for ethers' default of 5 minutes. */
  requestTimeoutMs?: number;
}

export function createEvmProvider(rpcUrl: string, options: EvmProviderOptions = {}): JsonRpcProvider {
  const network = new Network('local', options.chainId ?? localChainId);
  const request = new FetchRequest(rpcUrl);
  request.timeout = options.requestTimeoutMs ?? 30_000;
  // staticNetwork: no eth_chainId before every call. 250 ms polling: a tx.wait() on a chain that
  // mines at once should not wait ethers' default 4 s. No batching: one call per request. No
  // cache: ethers otherwise answers a repeated call within 250 ms from memory, which hands out a
  // stale nonce to two transactions sent in quick succession.
  return new JsonRpcProvider(request, network, { staticNetwork: network, pollingInterval: 250, batchMaxCount: 1, cacheTimeout: -1 });
}

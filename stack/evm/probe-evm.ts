// Whether an EVM node answers JSON-RPC, and which chain it is: the stack's readiness probe, with
// its own timeout because a paused or overloaded node accepts the connection and never answers.
import { UnavailableError } from '../../core/errors.ts';

/** The node's chain id (eth_chainId); throws UnavailableError when it does not answer in time. */
export async function probeEvmChainId(rpcUrl: string, timeoutMs = 2_000): Promise<bigint> {
  let text: string;
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  } catch (error) {
    throw new UnavailableError(`The EVM node at ${rpcUrl} does not answer eth_chainId`, { cause: error, context: { rpcUrl } });
  }
  const result: unknown = (JSON.parse(text) as { result?: unknown }).result;
  if (typeof result !== 'string' || !/^0x[0-9a-fA-F]+$/.test(result)) {
    throw new UnavailableError(`The EVM node at ${rpcUrl} answered eth_chainId without a chain id: ${text.slice(0, 200)}`, { context: { rpcUrl } });
  }
  return BigInt(result);
}

/** For the stack's probes: resolves once the node answers. */
export async function probeEvm(rpcUrl: string): Promise<void> {
  await probeEvmChainId(rpcUrl);
}

// Where a chain worker pass spends its time: wall time per phase of the pass and, per JSON-RPC
// method, the calls made and their summed duration (calls in flight together each count their own
// time; a JSON-RPC batch is one call of its own method name, e.g. `sendRawTransactions`). Logged
// once per pass that moved something, so a slow mass payout names its cost.
import type { EvmRpc } from './evm-rpc.ts';

export interface PassProfile {
  /** Runs `work` as the named phase (a phase entered twice adds up). */
  phase<T>(name: string, work: () => Promise<T>): Promise<T>;
  count(name: string, by?: number): void;
  /** Milliseconds rounded, for the log line. */
  summary(): { totalMs: number; phasesMs: Record<string, number>; rpc: Record<string, { calls: number; ms: number }>; counts: Record<string, number> };
}

export function createPassProfile(clock: () => number = () => performance.now()): PassProfile & { rpcCall(method: string, ms: number): void } {
  const started = clock();
  const phases = new Map<string, number>();
  const rpc = new Map<string, { calls: number; ms: number }>();
  const counts = new Map<string, number>();
  return {
    async phase(name, work) {
      const at = clock();
      try {
        return await work();
      } finally {
        phases.set(name, (phases.get(name) ?? 0) + clock() - at);
      }
    },
    count(name, by = 1) {
      counts.set(name, (counts.get(name) ?? 0) + by);
    },
    rpcCall(method, ms) {
      const entry = rpc.get(method) ?? { calls: 0, ms: 0 };
      entry.calls += 1;
      entry.ms += ms;
      rpc.set(method, entry);
    },
    summary() {
      const round = (ms: number): number => Math.round(ms);
      return {
        totalMs: round(clock() - started),
        phasesMs: Object.fromEntries([...phases].map(([name, ms]) => [name, round(ms)])),
        rpc: Object.fromEntries([...rpc].map(([method, entry]) => [method, { calls: entry.calls, ms: round(entry.ms) }])),
        counts: Object.fromEntries(counts),
      };
    },
  };
}

/** The same node calls, each timed into whichever pass profile is current when it starts. */
export function profiledRpc(rpc: EvmRpc, current: () => { rpcCall(method: string, ms: number): void } | null): EvmRpc {
  const timed =
    <A extends unknown[], R>(method: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const profile = current();
      const at = performance.now();
      try {
        return await call(...args);
      } finally {
        profile?.rpcCall(method, performance.now() - at);
      }
    };
  return {
    chainId: timed('chainId', () => rpc.chainId()),
    latestBlock: timed('latestBlock', () => rpc.latestBlock()),
    pendingBaseFeePerGas: timed('pendingBaseFeePerGas', () => rpc.pendingBaseFeePerGas()),
    genesisBlockHash: timed('genesisBlockHash', () => rpc.genesisBlockHash()),
    maxPriorityFeePerGas: timed('maxPriorityFeePerGas', () => rpc.maxPriorityFeePerGas()),
    balance: timed('balance', (address: string, block: Parameters<EvmRpc['balance']>[1]) => rpc.balance(address, block)),
    transactionCount: timed('transactionCount', (address: string, block: Parameters<EvmRpc['transactionCount']>[1]) => rpc.transactionCount(address, block)),
    call: timed('call', (request: Parameters<EvmRpc['call']>[0], block: Parameters<EvmRpc['call']>[1]) => rpc.call(request, block)),
    estimateGas: timed('estimateGas', (request: Parameters<EvmRpc['estimateGas']>[0]) => rpc.estimateGas(request)),
    sendRawTransaction: timed('sendRawTransaction', (raw: string) => rpc.sendRawTransaction(raw)),
    transactionReceipt: timed('transactionReceipt', (hash: string) => rpc.transactionReceipt(hash)),
    transaction: timed('transaction', (hash: string) => rpc.transaction(hash)),
    // A batch counts as one call: the profile shows round trips, and its log line the batch sizes.
    sendRawTransactions: timed('sendRawTransactions', (raws: readonly string[]) => rpc.sendRawTransactions(raws)),
    transactionReceipts: timed('transactionReceipts', (hashes: readonly string[]) => rpc.transactionReceipts(hashes)),
    transactions: timed('transactions', (hashes: readonly string[]) => rpc.transactions(hashes)),
    estimateGasAll: timed('estimateGasAll', (requests: Parameters<EvmRpc['estimateGasAll']>[0]) => rpc.estimateGasAll(requests)),
  };
}

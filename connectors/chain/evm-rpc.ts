// The JSON-RPC calls the chain connector makes, each with its own time limit and a zod check of
// the answer. ethers signs and encodes (transfer-transaction.ts); the transport is this small
// module instead of ethers' JsonRpcProvider because the connector must know exactly which calls
// were made and how each failed: the provider batches calls, caches answers for 250 ms (a nonce
// or receipt read twice would be stale), detects the network in a background loop, and reports a
// node's refusals under shapes that differ by method. Here a call either returns its parsed
// result, throws EvmRpcError (the node answered no) or EvmUnavailableError (no answer: outcome
// unknown). Every quantity in JSON-RPC is a hex string, so JSON.parse never sees money as a number.
import { z } from 'zod';
import { toQuantity } from 'ethers';
import { EvmRpcError, EvmUnavailableError } from './evm-errors.ts';

/** A block number, or the node's latest (mined) or pending (pool included) view. */
export type BlockTag = bigint | 'latest' | 'pending';

const hexQuantity = z
  .string()
  .regex(/^0x[0-9a-fA-F]+$/, 'a hex quantity')
  .transform((text) => BigInt(text));
const hexData = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, 'hex data');
const hash32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'a 32-byte hash');

// The error shape first: `result: z.unknown()` would also accept an error answer (no result).
const rpcResponse = z.union([
  z.object({
    jsonrpc: z.literal('2.0'),
    id: z.number().nullable(),
    error: z.object({ code: z.number(), message: z.string(), data: z.unknown().optional() }),
  }),
  z.object({ jsonrpc: z.literal('2.0'), id: z.number(), result: z.unknown() }),
]);

const receiptLog = z.object({ address: z.string(), topics: z.array(hash32), data: hexData });

const receiptSchema = z
  .object({
    transactionHash: hash32,
    blockNumber: hexQuantity,
    blockHash: hash32,
    status: hexQuantity,
    gasUsed: hexQuantity,
    effectiveGasPrice: hexQuantity,
    logs: z.array(receiptLog),
  })
  .nullable();

export type TransactionReceipt = NonNullable<z.infer<typeof receiptSchema>>;
export type ReceiptLog = z.infer<typeof receiptLog>;

const transactionSchema = z.object({ hash: hash32, blockNumber: hexQuantity.nullable() }).nullable();

const blockSchema = z.object({ number: hexQuantity, hash: hash32, baseFeePerGas: hexQuantity.optional() });
const pendingBlockSchema = z.object({ baseFeePerGas: hexQuantity.optional() }).nullable();

export interface LatestBlock {
  readonly number: bigint;
  readonly hash: string;
  /** Absent on chains without EIP-1559. */
  readonly baseFeePerGasWei: bigint | null;
}

export interface CallRequest {
  readonly from?: string;
  readonly to: string;
  readonly data?: string;
  readonly value?: bigint;
}

export interface EvmRpc {
  chainId(): Promise<bigint>;
  latestBlock(): Promise<LatestBlock>;
  /** The base fee of the block the node would mine next (its `pending` block), or null when it has none. */
  pendingBaseFeePerGas(): Promise<bigint | null>;
  /** Block 0's hash: which chain the node serves, beyond its chain id (a restarted dev chain keeps the id). */
  genesisBlockHash(): Promise<string>;
  maxPriorityFeePerGas(): Promise<bigint>;
  balance(address: string, block: BlockTag): Promise<bigint>;
  transactionCount(address: string, block: BlockTag): Promise<bigint>;
  call(request: CallRequest, block: BlockTag): Promise<string>;
  estimateGas(request: CallRequest): Promise<bigint>;
  /** Resolves to the hash the node computed for the transaction. */
  sendRawTransaction(rawTransaction: string): Promise<string>;
  transactionReceipt(hash: string): Promise<TransactionReceipt | null>;
  /** Null when the node knows no transaction with this hash (neither pending nor mined). */
  transaction(hash: string): Promise<{ hash: string; blockNumber: bigint | null } | null>;
}

export interface EvmRpcOptions {
  url: string;
  /** Per call: a paused or overloaded node must not hold a worker pass forever. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

function blockTagOf(block: BlockTag): string {
  return typeof block === 'bigint' ? toQuantity(block) : block;
}

function callObjectOf(request: CallRequest): Record<string, string> {
  return {
    ...(request.from === undefined ? {} : { from: request.from }),
    to: request.to,
    ...(request.data === undefined ? {} : { data: request.data }),
    ...(request.value === undefined ? {} : { value: toQuantity(request.value) }),
  };
}

export function createEvmRpc(options: EvmRpcOptions): EvmRpc {
  const fetchImplementation = options.fetch ?? fetch;
  let nextId = 1;

  async function request<T>(method: string, params: readonly unknown[], schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T> {
    const id = nextId;
    nextId += 1;
    let response: Response;
    let body: unknown;
    try {
      response = await fetchImplementation(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      body = await response.json();
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : 'unreachable';
      throw new EvmUnavailableError(method, reason, { cause: error });
    }
    const parsed = rpcResponse.safeParse(body);
    if (!parsed.success) {
      throw new EvmUnavailableError(method, `HTTP ${response.status} with no JSON-RPC answer`, { context: { status: response.status } });
    }
    if ('error' in parsed.data) {
      const { code, message, data } = parsed.data.error;
      throw new EvmRpcError(method, code, message, data);
    }
    const result = schema.safeParse(parsed.data.result);
    if (!result.success) {
      // A node that answers with the wrong shape is broken or not what we think it is: no state
      // change on it, the call is tried again later.
      throw new EvmUnavailableError(method, `unexpected result: ${result.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    return result.data;
  }

  return {
    chainId: () => request('eth_chainId', [], hexQuantity),
    async latestBlock() {
      const block = await request('eth_getBlockByNumber', ['latest', false], blockSchema);
      return { number: block.number, hash: block.hash, baseFeePerGasWei: block.baseFeePerGas ?? null };
    },
    async pendingBaseFeePerGas() {
      // Only the base fee: some nodes give their pending block no hash (or no number).
      return (await request('eth_getBlockByNumber', ['pending', false], pendingBlockSchema))?.baseFeePerGas ?? null;
    },
    async genesisBlockHash() {
      return (await request('eth_getBlockByNumber', ['0x0', false], blockSchema)).hash;
    },
    maxPriorityFeePerGas: () => request('eth_maxPriorityFeePerGas', [], hexQuantity),
    balance: (address, block) => request('eth_getBalance', [address, blockTagOf(block)], hexQuantity),
    transactionCount: (address, block) => request('eth_getTransactionCount', [address, blockTagOf(block)], hexQuantity),
    call: (callRequest, block) => request('eth_call', [callObjectOf(callRequest), blockTagOf(block)], hexData),
    estimateGas: (callRequest) => request('eth_estimateGas', [callObjectOf(callRequest)], hexQuantity),
    sendRawTransaction: (rawTransaction) => request('eth_sendRawTransaction', [rawTransaction], hash32),
    transactionReceipt: (hash) => request('eth_getTransactionReceipt', [hash], receiptSchema),
    transaction: (hash) => request('eth_getTransactionByHash', [hash], transactionSchema),
  };
}

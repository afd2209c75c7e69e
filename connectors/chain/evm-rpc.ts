// The JSON-RPC calls the chain connector makes, each with its own time limit and a zod check of
// the answer. ethers signs and encodes (transfer-transaction.ts); the transport is this small
// module instead of ethers' JsonRpcProvider because the connector must know exactly which calls
// were made and how each failed: the provider batches calls, caches answers for 250 ms (a nonce
// or receipt read twice would be stale), detects the network in a background loop, and reports a
// node's refusals under shapes that differ by method. Here a call either returns its parsed
// result, throws EvmRpcError (the node answered no) or EvmUnavailableError (no answer: outcome
// unknown). Every quantity in JSON-RPC is a hex string, so JSON.parse never sees money as a number.
//
// Batches. A pass of the chain worker makes up to 100 calls of one method at a time (sends,
// receipts, estimates); one HTTP request per call cost a round trip each, on both sides. The batch
// methods send them as ONE JSON-RPC batch (an array body) and give back one answer per call, in the
// caller's order, shaped as the lone call would have resolved or thrown. No usable answer to the
// whole batch — or none for one call in it (a node may cap its batches) — is EvmUnavailableError
// for the calls concerned: outcome unknown, as for a lone call, and the caller asks again alone.
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

/** One call's answer within a batch: its result, or the error the lone call would have thrown. */
export type BatchAnswer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: EvmRpcError | EvmUnavailableError };

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
  /** eth_sendRawTransaction of each, in ONE batch sent in the order given (the caller's nonce order). */
  sendRawTransactions(rawTransactions: readonly string[]): Promise<BatchAnswer<string>[]>;
  /** eth_getTransactionReceipt of each hash, in one batch. */
  transactionReceipts(hashes: readonly string[]): Promise<BatchAnswer<TransactionReceipt | null>[]>;
  /** eth_getTransactionByHash of each hash, in one batch. */
  transactions(hashes: readonly string[]): Promise<BatchAnswer<{ hash: string; blockNumber: bigint | null } | null>[]>;
  /** eth_estimateGas of each request, in one batch. */
  estimateGasAll(requests: readonly CallRequest[]): Promise<BatchAnswer<bigint>[]>;
}

export interface EvmRpcOptions {
  url: string;
  /**
   * Per call: a paused or overloaded node must not hold a worker pass forever. A batch gets this
   * once per `batchCallsPerTimeout` calls in it: the allowance those calls had when they went 8 at
   * a time, one request each.
   */
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

/** Calls of a batch that share one `timeoutMs` (see EvmRpcOptions). */
export const batchCallsPerTimeout = 8;

export function createEvmRpc(options: EvmRpcOptions): EvmRpc {
  const fetchImplementation = options.fetch ?? fetch;
  let nextId = 1;

  /** One call's answer object, as the node gave it, to the lone call's result or error. */
  function answerOf<T>(method: string, status: number, answer: unknown, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T {
    const parsed = rpcResponse.safeParse(answer);
    if (!parsed.success) {
      throw new EvmUnavailableError(method, `HTTP ${status} with no JSON-RPC answer`, { context: { status } });
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

  async function post(method: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: unknown }> {
    try {
      const response = await fetchImplementation(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: response.status, body: await response.json() };
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
      throw new EvmUnavailableError(method, reason, { cause: error });
    }
  }

  async function requestBatch<T>(method: string, paramsOfEach: readonly (readonly unknown[])[], schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<BatchAnswer<T>[]> {
    if (paramsOfEach.length === 0) return [];
    const firstId = nextId;
    nextId += paramsOfEach.length;
    const calls = paramsOfEach.map((params, index) => ({ jsonrpc: '2.0', id: firstId + index, method, params }));
    const fail = (error: EvmRpcError | EvmUnavailableError): BatchAnswer<T> => ({ ok: false, error });
    let answered: { status: number; body: unknown };
    try {
      answered = await post(method, calls, options.timeoutMs * Math.ceil(paramsOfEach.length / batchCallsPerTimeout));
    } catch (error) {
      if (error instanceof EvmUnavailableError) return calls.map(() => fail(error));
      throw error;
    }
    const { status, body } = answered;
    // A node without batches (or over its cap) answers one error object for the whole array.
    if (!Array.isArray(body)) return calls.map(() => fail(new EvmUnavailableError(method, `HTTP ${status}: no batch answer`, { context: { status } })));
    // Answers may come in any order (JSON-RPC 2.0): matched by id.
    const byId = new Map<unknown, unknown>(body.map((answer: unknown) => [typeof answer === 'object' && answer !== null && 'id' in answer ? answer.id : undefined, answer]));
    return calls.map((call) => {
      if (!byId.has(call.id)) return fail(new EvmUnavailableError(method, 'no answer for this call in the batch'));
      try {
        return { ok: true as const, value: answerOf(method, status, byId.get(call.id), schema) };
      } catch (error) {
        if (error instanceof EvmRpcError || error instanceof EvmUnavailableError) return fail(error);
        throw error;
      }
    });
  }

  async function request<T>(method: string, params: readonly unknown[], schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T> {
    const id = nextId;
    nextId += 1;
    const { status, body } = await post(method, { jsonrpc: '2.0', id, method, params }, options.timeoutMs);
    return answerOf(method, status, body, schema);
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
    sendRawTransactions: (rawTransactions) => requestBatch('eth_sendRawTransaction', rawTransactions.map((raw) => [raw]), hash32),
    transactionReceipts: (hashes) => requestBatch('eth_getTransactionReceipt', hashes.map((hash) => [hash]), receiptSchema),
    transactions: (hashes) => requestBatch('eth_getTransactionByHash', hashes.map((hash) => [hash]), transactionSchema),
    estimateGasAll: (requests) => requestBatch('eth_estimateGas', requests.map((callRequest) => [callObjectOf(callRequest)]), hexQuantity),
  };
}

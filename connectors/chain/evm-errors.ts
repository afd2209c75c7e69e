// The JSON-RPC boundary's errors and their classification table. Two kinds of failure must never
// be confused, because the connector acts on them in opposite ways:
// - the node could not be asked or did not answer (refused, timed out, HTTP 5xx, garbage): the
//   outcome of the call is UNKNOWN — a broadcast may or may not have reached the node — so nothing
//   changes state and the call is retried (EvmUnavailableError, retriable);
// - the node answered with a JSON-RPC error: that answer is a fact about the chain or the request
//   (EvmRpcError), classified below into what the connector does next.
import { PipelineError, UnavailableError, type PipelineErrorOptions } from '../../core/errors.ts';

/** The node could not be reached or gave no usable answer: retriable, outcome unknown. */
export class EvmUnavailableError extends UnavailableError {
  readonly method: string;

  constructor(method: string, message: string, options: PipelineErrorOptions = {}) {
    super(`EVM node: ${method}: ${message}`, { ...options, context: { ...options.context, method } });
    this.method = method;
  }
}

/** The node answered a call with a JSON-RPC error object. */
export class EvmRpcError extends PipelineError {
  readonly method: string;
  readonly code: number;
  /** Revert data or other details the node attached, as it sent them. */
  readonly data: unknown;
  readonly rpcMessage: string;

  constructor(method: string, code: number, rpcMessage: string, data: unknown) {
    super(`EVM node refused ${method}: ${rpcMessage} (JSON-RPC ${code})`, { retriable: false, context: { method, code } });
    this.method = method;
    this.code = code;
    this.data = data;
    this.rpcMessage = rpcMessage;
  }
}

export type RpcRejection =
  /** The node already has this exact transaction (in its pool or mined): as good as accepted. */
  | 'already-known'
  /** The sender's nonce is past this transaction's: mined already, or replaced — ask the chain. */
  | 'nonce-too-low'
  /** An earlier nonce is missing in the node's pool; it will be accepted once that one is. */
  | 'nonce-too-high'
  | 'insufficient-funds'
  /** The max fee is below the next block's base fee. */
  | 'fee-too-low'
  /** Another transaction with this nonce is pending with a higher fee. */
  | 'replacement-underpriced'
  /** Execution reverted (estimate or call). */
  | 'reverted'
  | 'unsupported-method'
  | 'other';

// Messages differ between nodes (geth, Erigon, Nethermind, Hardhat/EDR, Anvil); each row names
// the wordings seen for one meaning. Order matters: the first match wins.
const rejectionTable: readonly { rejection: RpcRejection; pattern: RegExp }[] = [
  { rejection: 'already-known', pattern: /already known|known transaction|already imported|transaction already exists/i },
  { rejection: 'nonce-too-low', pattern: /nonce too low|nonce has already been used|oldnonce|nonce is too low/i },
  { rejection: 'nonce-too-high', pattern: /nonce too high|nonce gap/i },
  { rejection: 'replacement-underpriced', pattern: /replacement transaction underpriced|replacement fee too low/i },
  { rejection: 'insufficient-funds', pattern: /insufficient funds|doesn't have enough funds|not enough funds/i },
  {
    rejection: 'fee-too-low',
    pattern: /too low for the next block|fee cap less than block base fee|max fee per gas less than block base fee|transaction underpriced|feecap too low/i,
  },
  { rejection: 'reverted', pattern: /revert|vm exception|invalid opcode|out of gas/i },
];

/** JSON-RPC 2.0's "method not found" and EIP-1474's "execution reverted". */
const methodNotFoundCode = -32601;
const executionRevertedCode = 3;

export function rejectionOf(error: EvmRpcError): RpcRejection {
  if (error.code === methodNotFoundCode) return 'unsupported-method';
  for (const { rejection, pattern } of rejectionTable) {
    if (pattern.test(error.rpcMessage)) return rejection;
  }
  if (error.code === executionRevertedCode) return 'reverted';
  return 'other';
}

export function isRpcRejection(error: unknown, rejection: RpcRejection): boolean {
  return error instanceof EvmRpcError && rejectionOf(error) === rejection;
}

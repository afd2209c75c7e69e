// Proves the JSON-RPC classification table reads the refusals of the nodes we meet (Hardhat's EDR,
// geth, Erigon, Nethermind wordings) as what they mean, so "the node already has it" is never
// taken for a failure and "no answer" is never taken for a refusal.
import { describe, expect, it } from 'vitest';
import { isRetriable } from '../../core/errors.ts';
import { EvmRpcError, EvmUnavailableError, rejectionOf, type RpcRejection } from './evm-errors.ts';

const rpcError = (message: string, code = -32603): EvmRpcError => new EvmRpcError('eth_sendRawTransaction', code, message, undefined);

describe('rejectionOf', () => {
  it.each<[string, RpcRejection]>([
    ['Known transaction: 0x8c0a9f4f3c6e3b1f', 'already-known'],
    ['already known', 'already-known'],
    ['Nonce too low. Expected nonce to be 12 but got 11.', 'nonce-too-low'],
    ['nonce too low: next nonce 12, tx nonce 11', 'nonce-too-low'],
    ['Nonce too high. Expected nonce to be 3 but got 5. Note that transactions can\'t be queued when automining.', 'nonce-too-high'],
    ["Sender doesn't have enough funds to send tx. The max upfront cost is: 1000 and the sender's balance is: 10.", 'insufficient-funds'],
    ['insufficient funds for gas * price + value: balance 0, tx cost 21000', 'insufficient-funds'],
    ['Transaction maxFeePerGas (7) is too low for the next block, which has a baseFeePerGas of 8', 'fee-too-low'],
    ['max fee per gas less than block base fee: address 0x…, maxFeePerGas: 1, baseFee: 7', 'fee-too-low'],
    ['replacement transaction underpriced', 'replacement-underpriced'],
    ['Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 2 is necessary', 'replacement-underpriced'],
    ["VM Exception while processing transaction: reverted with custom error 'Blacklisted(\"0x…\")'", 'reverted'],
    ['execution reverted: ERC20: transfer amount exceeds balance', 'reverted'],
    ['something nobody has seen before', 'other'],
  ])('%s → %s', (message, rejection) => {
    expect(rejectionOf(rpcError(message))).toBe(rejection);
  });

  it('reads code 3 as a revert and -32601 as an unsupported method whatever the message', () => {
    expect(rejectionOf(rpcError('custom error 0x12345678', 3))).toBe('reverted');
    expect(rejectionOf(rpcError('the method eth_maxPriorityFeePerGas does not exist', -32601))).toBe('unsupported-method');
  });

  it('retries no answer and never a refusal', () => {
    expect(isRetriable(new EvmUnavailableError('eth_sendRawTransaction', 'no answer within 5000 ms'))).toBe(true);
    expect(isRetriable(rpcError('nonce too low'))).toBe(false);
  });
});

// The rules a transfer request must meet before it is recorded. Pure. A request that breaks one
// can never succeed however often it is retried, so it becomes a dead letter with the reason —
// never a stuck partition, and never a transaction.
import { getAddress, isAddress, ZeroAddress } from 'ethers';
import type { TransferRequested } from '../../schemas/generated/records.ts';

export interface RequestViolation {
  readonly field: string;
  readonly rule: string;
  readonly reason: string;
}

/** uint256: the largest value a transaction or an ERC-20 transfer can carry. */
export const uint256Max = 2n ** 256n - 1n;
const idLengthMax = 200;

export interface TransferRequestRules {
  /** The host wallet: a transfer to itself would spend gas for nothing. */
  readonly senderAddress: string;
  readonly usdtContractAddress: string;
}

export function transferRequestViolation(request: TransferRequested, rules: TransferRequestRules): RequestViolation | null {
  for (const field of ['transfer_id', 'command_id'] as const) {
    const id = request[field];
    if (id.trim() === '' || id.length > idLengthMax) {
      return { field, rule: 'id', reason: `${field} must be 1–${idLengthMax} characters, not blank` };
    }
  }
  // isAddress accepts all-lowercase and all-uppercase hex, and mixed case only with a valid
  // EIP-55 checksum: a mistyped checksummed address is refused rather than paid.
  if (!isAddress(request.to_address)) {
    return { field: 'to_address', rule: 'evm-address', reason: `to_address ${JSON.stringify(request.to_address)} is not a valid EVM address (0x + 40 hex digits, EIP-55 checksum if mixed case)` };
  }
  const to = getAddress(request.to_address);
  if (to === ZeroAddress) return { field: 'to_address', rule: 'not-zero-address', reason: 'to_address is the zero address: the funds would be burnt' };
  if (to === getAddress(rules.senderAddress)) return { field: 'to_address', rule: 'not-sender', reason: 'to_address is the host wallet itself' };
  if (to === getAddress(rules.usdtContractAddress)) {
    return { field: 'to_address', rule: 'not-token-contract', reason: 'to_address is the USDT contract: tokens sent there are lost' };
  }
  if (request.amount_base_units <= 0n) {
    return { field: 'amount_base_units', rule: 'positive', reason: `amount_base_units must be positive, got ${request.amount_base_units}` };
  }
  if (request.amount_base_units > uint256Max) {
    return { field: 'amount_base_units', rule: 'uint256', reason: 'amount_base_units does not fit in uint256' };
  }
  return null;
}

// Proves which transfer requests are refused before anything is recorded (and so dead-lettered
// with a reason): invalid or mistyped addresses, the zero address, the wallet itself, the token
// contract, zero or oversized amounts, blank ids.
import { describe, expect, it } from 'vitest';
import type { TransferRequested } from '../../schemas/generated/records.ts';
import { localHostWallet, localUsdtAddress } from '../../stack/evm/local-wallets.ts';
import { transferRequestViolation, uint256Max } from './transfer-request.ts';

const rules = { senderAddress: localHostWallet.address, usdtContractAddress: localUsdtAddress };
const recipient = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

const request = (overrides: Partial<TransferRequested> = {}): TransferRequested => ({
  transfer_id: 'command-1:payin',
  command_id: 'command-1',
  asset: 'ETH',
  to_address: recipient,
  amount_base_units: 1n,
  requested_at: new Date('2026-11-21T10:00:00Z'),
  ...overrides,
});

describe('transferRequestViolation', () => {
  it('accepts a checksummed or all-lowercase address and any amount up to uint256', () => {
    expect(transferRequestViolation(request(), rules)).toBeNull();
    expect(transferRequestViolation(request({ to_address: recipient.toLowerCase(), amount_base_units: uint256Max, asset: 'USDT' }), rules)).toBeNull();
  });

  it.each([
    { overrides: { to_address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293Bc' }, field: 'to_address', rule: 'evm-address' },
    { overrides: { to_address: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq' }, field: 'to_address', rule: 'evm-address' },
    { overrides: { to_address: '0x0000000000000000000000000000000000000000' }, field: 'to_address', rule: 'not-zero-address' },
    { overrides: { to_address: localHostWallet.address.toLowerCase() }, field: 'to_address', rule: 'not-sender' },
    { overrides: { to_address: localUsdtAddress }, field: 'to_address', rule: 'not-token-contract' },
    { overrides: { amount_base_units: 0n }, field: 'amount_base_units', rule: 'positive' },
    { overrides: { amount_base_units: -5n }, field: 'amount_base_units', rule: 'positive' },
    { overrides: { amount_base_units: uint256Max + 1n }, field: 'amount_base_units', rule: 'uint256' },
    { overrides: { transfer_id: '  ' }, field: 'transfer_id', rule: 'id' },
    { overrides: { command_id: '' }, field: 'command_id', rule: 'id' },
  ])('refuses $field by rule $rule', ({ overrides, field, rule }) => {
    expect(transferRequestViolation(request(overrides), rules)).toMatchObject({ field, rule });
  });
});

// The transaction of a transfer, built, signed and checked with ethers. No network here: signing
// is local, so the signed bytes can be stored before anything leaves the process.
import { AbiCoder, getAddress, Interface, Transaction, Wallet, zeroPadValue } from 'ethers';
import { assertInvariant } from '../../core/errors.ts';
import type { TransferAsset } from '../../schemas/generated/records.ts';
import type { ReceiptLog } from './evm-rpc.ts';

/** The ERC-20 subset the connector uses. Only `transfer`'s revert matters, not its return value. */
export const erc20Interface = new Interface([
  'function transfer(address to, uint256 amount) returns (bool)',
  'function balanceOf(address owner) view returns (uint256)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
]);

/** Gas of a plain ETH transfer to an account without code. */
export const ethTransferGas = 21_000n;

export interface TransferCall {
  readonly to: string;
  readonly value: bigint;
  readonly data: string;
}

export function transferCallOf(asset: TransferAsset, toAddress: string, amountBaseUnits: bigint, usdtContractAddress: string): TransferCall {
  if (asset === 'ETH') return { to: getAddress(toAddress), value: amountBaseUnits, data: '0x' };
  return {
    to: getAddress(usdtContractAddress),
    value: 0n,
    data: erc20Interface.encodeFunctionData('transfer', [getAddress(toAddress), amountBaseUnits]),
  };
}

export function balanceOfCallData(owner: string): string {
  return erc20Interface.encodeFunctionData('balanceOf', [getAddress(owner)]);
}

export function decodeBalanceOf(result: string): bigint {
  const [balance] = erc20Interface.decodeFunctionResult('balanceOf', result);
  assertInvariant(typeof balance === 'bigint', 'balanceOf returns a uint256');
  return balance;
}

/** Headroom over the node's estimate: state can change between estimate and inclusion. Unused gas is refunded. */
export function gasLimitWithHeadroom(estimate: bigint): bigint {
  return (estimate * 12n) / 10n;
}

export interface UnsignedTransfer {
  readonly chainId: bigint;
  readonly nonce: bigint;
  readonly call: TransferCall;
  readonly gasLimit: bigint;
  readonly maxFeePerGasWei: bigint;
  readonly maxPriorityFeePerGasWei: bigint;
}

export interface SignedTransfer {
  readonly rawTransaction: string;
  readonly hash: string;
}

export interface TransferSigner {
  readonly address: string;
  sign(transfer: UnsignedTransfer): Promise<SignedTransfer>;
}

/** Holds the key in this closure only: nothing returned or thrown carries it. */
export function createTransferSigner(privateKey: string): TransferSigner {
  const wallet = new Wallet(privateKey);
  return {
    address: wallet.address,
    async sign(transfer) {
      assertInvariant(transfer.nonce <= BigInt(Number.MAX_SAFE_INTEGER), 'a nonce ethers can sign', { nonce: transfer.nonce.toString() });
      const rawTransaction = await wallet.signTransaction({
        type: 2,
        chainId: transfer.chainId,
        nonce: Number(transfer.nonce),
        to: transfer.call.to,
        value: transfer.call.value,
        data: transfer.call.data,
        gasLimit: transfer.gasLimit,
        maxFeePerGas: transfer.maxFeePerGasWei,
        maxPriorityFeePerGas: transfer.maxPriorityFeePerGasWei,
      });
      const parsed = Transaction.from(rawTransaction);
      // Checked on the bytes that will be stored and sent, not on what was asked for.
      assertInvariant(parsed.from === wallet.address && BigInt(parsed.nonce) === transfer.nonce && parsed.to === transfer.call.to, 'the signed transaction is the one requested');
      assertInvariant(parsed.hash !== null, 'a signed transaction has a hash');
      return { rawTransaction, hash: parsed.hash };
    },
  };
}

const transferTopic = erc20Interface.getEvent('Transfer')?.topicHash;

/**
 * True when the receipt's logs hold the token contract's Transfer(from, to, amount). A token may
 * report success without moving anything (some ERC-20s return false instead of reverting); only
 * the event proves the recipient was credited.
 */
export function hasTransferLog(logs: readonly ReceiptLog[], token: string, from: string, to: string, amountBaseUnits: bigint): boolean {
  assertInvariant(transferTopic !== undefined, 'the ERC-20 interface has a Transfer event');
  const fromTopic = zeroPadValue(getAddress(from), 32).toLowerCase();
  const toTopic = zeroPadValue(getAddress(to), 32).toLowerCase();
  const value = AbiCoder.defaultAbiCoder().encode(['uint256'], [amountBaseUnits]).toLowerCase();
  return logs.some(
    (log) =>
      getAddress(log.address) === getAddress(token) &&
      log.topics.length === 3 &&
      log.topics[0]?.toLowerCase() === transferTopic &&
      log.topics[1]?.toLowerCase() === fromTopic &&
      log.topics[2]?.toLowerCase() === toTopic &&
      log.data.toLowerCase() === value,
  );
}

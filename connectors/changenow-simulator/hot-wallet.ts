// The simulated exchange's hot wallet: pays out (and refunds) on the local chain, one transfer at
// a time, so its nonces form one sequence. Each transfer is signed once and only that signed
// transaction is (re)broadcast until it is mined, so a node that stops answering halfway can delay
// a payout but never make the simulator pay twice.
import { Interface, Transaction, Wallet, type JsonRpcProvider, type TransactionRequest } from 'ethers';
import { PipelineError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { createRetry } from '../../core/retry.ts';
import { erc20Abi } from '../../stack/evm/local-usdt-artifact.ts';

export interface HotWalletTransfer {
  readonly asset: 'eth' | 'usdt';
  readonly to: string;
  /** Wei for ETH, 10⁻⁶ for USDT. */
  readonly amountBaseUnits: bigint;
}

export interface SentTransfer {
  readonly hash: string;
  /** False when the transaction was mined but reverted (e.g. a blacklisted recipient). */
  readonly succeeded: boolean;
}

export interface HotWallet {
  readonly address: string;
  send(transfer: HotWalletTransfer): Promise<SentTransfer>;
}

export interface HotWalletOptions {
  provider: JsonRpcProvider;
  privateKey: string;
  usdtAddress: string;
  log: Logger;
  /** How long one transfer may take, node outages included, before it is given up. Default 2 min. */
  sendTimeoutMs?: number;
}

// Fixed limits instead of estimates: an estimate of a reverting transfer fails before sending,
// while a real exchange's transfer is mined and reverts, which is what tests should see.
const gasLimitEth = 21_000n;
const gasLimitUsdt = 100_000n;
const usdtInterface = new Interface(erc20Abi);

export function createHotWallet(options: HotWalletOptions): HotWallet {
  const { provider, log } = options;
  const wallet = new Wallet(options.privateKey, provider);
  const sendTimeoutMs = options.sendTimeoutMs ?? 120_000;
  const retry = createRetry({ attemptsMax: 10_000, delayInitialMs: 250, delayMaxMs: 2_000, totalMs: sendTimeoutMs, shouldRetry: () => true });
  let queue: Promise<unknown> = Promise.resolve();

  const requestOf = (transfer: HotWalletTransfer): TransactionRequest =>
    transfer.asset === 'eth'
      ? { to: transfer.to, value: transfer.amountBaseUnits, gasLimit: gasLimitEth }
      : { to: options.usdtAddress, data: usdtInterface.encodeFunctionData('transfer', [transfer.to, transfer.amountBaseUnits]), gasLimit: gasLimitUsdt };

  const sendNow = async (transfer: HotWalletTransfer): Promise<SentTransfer> => {
    const signed = await retry(async () => {
      const nonce = await provider.getTransactionCount(wallet.address, 'pending');
      return wallet.signTransaction(await wallet.populateTransaction({ ...requestOf(transfer), nonce }));
    });
    const hash = Transaction.from(signed).hash;
    if (hash === null) throw new PipelineError('a signed transaction has no hash');
    log.info({ hash, asset: transfer.asset, to: transfer.to, amountBaseUnits: transfer.amountBaseUnits.toString() }, 'hot wallet transfer signed');
    let lastBroadcastError: unknown;
    try {
      const receipt = await retry(async () => {
        // Errors such as "nonce too low" or "already known" also mean an earlier broadcast
        // arrived; the receipt decides.
        await provider.broadcastTransaction(signed).catch((error: unknown) => {
          lastBroadcastError = error;
        });
        const mined = await provider.waitForTransaction(hash, 1, 5_000);
        if (mined === null) throw new Error(`transaction ${hash} not mined yet`);
        return mined;
      });
      return { hash, succeeded: receipt.status === 1 };
    } catch (error) {
      throw new PipelineError(`Hot wallet transfer ${hash} was not mined within ${sendTimeoutMs} ms`, {
        cause: lastBroadcastError ?? error,
        context: { hash, to: transfer.to },
      });
    }
  };

  return {
    address: wallet.address,
    send(transfer) {
      const sent = queue.then(() => sendNow(transfer));
      queue = sent.catch(() => undefined);
      return sent;
    },
  };
}

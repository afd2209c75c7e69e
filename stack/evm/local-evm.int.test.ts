// Proves the test stack's local EVM is what the connectors and the simulator rely on: the local
// chain id, USDT with 6 decimals at its fixed address and the minted supply in the exchange's hot
// wallet, a funded host wallet, a real on-chain revert for a blacklisted address, and a node that
// stops answering while paused and answers again once resumed — all over real JSON-RPC.
import { Contract, Wallet } from 'ethers';
import { describe, expect, inject, it } from 'vitest';
import { probeEvmChainId } from './probe-evm.ts';
import { erc20Abi } from './local-usdt-artifact.ts';
import { exchangeWalletUsdtSupply } from './deploy-local-usdt.ts';
import { localChainId, localDeployer, localExchangeWallet, localHostWallet, localUsdtAddress } from './local-wallets.ts';
import {
  ethBalanceOf,
  freshAddress,
  localEvmProvider,
  localSigner,
  mineBlock,
  pauseLocalEvm,
  resumeLocalEvm,
  sendEth,
  sendUsdt,
  setAutomine,
  dropTransaction,
  withoutMining,
  setUsdtBlacklisted,
  usdtBalanceOf,
  whileLocalEvmPaused,
} from '../../test/support/local-evm.ts';

const oneUsdt = 1_000_000n;

describe('local EVM', () => {
  it('answers eth_chainId with the local chain id 31337', async () => {
    expect(await probeEvmChainId(inject('endpoints').evmRpcUrl)).toBe(localChainId);
    expect((await localEvmProvider().getNetwork()).chainId).toBe(31337n);
  });

  it('has USDT with 6 decimals at the fixed local address, the supply in the exchange wallet', async () => {
    expect(inject('endpoints').usdtContractAddress).toBe(localUsdtAddress);
    const usdt = new Contract(localUsdtAddress, erc20Abi, localEvmProvider());
    expect(await usdt.getFunction('decimals').staticCall()).toBe(6n);
    // Test files that ran earlier may have minted more, and paid out of the exchange wallet.
    const totalSupply: unknown = await usdt.getFunction('totalSupply').staticCall();
    expect(typeof totalSupply === 'bigint' && totalSupply >= exchangeWalletUsdtSupply).toBe(true);
    const exchangeBalance = await usdtBalanceOf(localExchangeWallet.address);
    expect(exchangeBalance > exchangeWalletUsdtSupply / 2n && exchangeBalance <= exchangeWalletUsdtSupply).toBe(true);
  });

  it('funds the host wallet with ETH, and a USDT transfer moves exact base units', async () => {
    expect(await ethBalanceOf(localHostWallet.address)).toBeGreaterThan(1_000n * 10n ** 18n);
    const recipient = freshAddress();
    await sendUsdt(localExchangeWallet, recipient, 12n * oneUsdt + 345_678n);
    await sendEth(localHostWallet, recipient, 10n ** 15n);
    expect(await usdtBalanceOf(recipient)).toBe(12_345_678n);
    expect(await ethBalanceOf(recipient)).toBe(10n ** 15n);
  });

  it('mines empty blocks on the interval, so confirmations accrue without traffic', async () => {
    const provider = localEvmProvider();
    const before = await provider.getBlockNumber();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await provider.getBlockNumber()).toBeGreaterThan(before);
  });

  it('reverts on chain a transfer to a blacklisted address, and the balances stay unchanged', async () => {
    const blacklisted = freshAddress();
    await setUsdtBlacklisted(blacklisted);
    const usdt = new Contract(localUsdtAddress, erc20Abi, localSigner(localExchangeWallet));
    const balanceBefore = await usdtBalanceOf(localExchangeWallet.address);
    // A fixed gas limit skips ethers' estimate (which would refuse before sending), so the
    // transaction is mined and really reverts.
    const response = await usdt.getFunction('transfer').send(blacklisted, oneUsdt, { gasLimit: 100_000n });
    const receipt = await localEvmProvider().waitForTransaction(response.hash, 1, 30_000);
    expect(receipt?.status).toBe(0);
    expect(await usdtBalanceOf(blacklisted)).toBe(0n);
    expect(await usdtBalanceOf(localExchangeWallet.address)).toBe(balanceBefore);
    await setUsdtBlacklisted(blacklisted, false);
    await sendUsdt(localExchangeWallet, blacklisted, oneUsdt);
    expect(await usdtBalanceOf(blacklisted)).toBe(oneUsdt);
  });

  it('keeps a transaction pending while mining is stopped, and drops it on request', async () => {
    const recipient = freshAddress();
    const sender = new Wallet(localDeployer.privateKey, localEvmProvider());
    const pendingHash = await withoutMining(async () => {
      const response = await sender.sendTransaction({ to: recipient, value: 1n, gasLimit: 21_000n });
      expect(await localEvmProvider().getTransactionReceipt(response.hash)).toBeNull();
      expect(await dropTransaction(response.hash)).toBe(true);
      await mineBlock();
      return response.hash;
    });
    expect(await localEvmProvider().getTransactionReceipt(pendingHash)).toBeNull();
    expect(await ethBalanceOf(recipient)).toBe(0n);
  });

  it('mines a pending transaction once automine is back on', async () => {
    const recipient = freshAddress();
    await setAutomine(false);
    try {
      const response = await localSigner(localDeployer).sendTransaction({ to: recipient, value: 7n });
      await mineBlock();
      expect((await localEvmProvider().getTransactionReceipt(response.hash))?.status).toBe(1);
    } finally {
      await setAutomine(true);
    }
    expect(await ethBalanceOf(recipient)).toBe(7n);
  });

  it('stops answering while paused and answers again once resumed', async () => {
    const rpcUrl = inject('endpoints').evmRpcUrl;
    await whileLocalEvmPaused(async () => {
      await expect(probeEvmChainId(rpcUrl, 1_000)).rejects.toThrow(/does not answer eth_chainId/);
    });
    expect(await probeEvmChainId(rpcUrl, 5_000)).toBe(localChainId);
    // The helpers are idempotent: resuming a running node is harmless.
    await pauseLocalEvm();
    await resumeLocalEvm();
    await resumeLocalEvm();
    expect(await probeEvmChainId(rpcUrl, 5_000)).toBe(localChainId);
  });
});

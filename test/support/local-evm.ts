// Test helpers for the stack's local EVM: balances, fresh addresses, real transfers from the local
// accounts, and faults on demand — the node paused (the RPC node "down for a while"), automine off
// so a transaction waits in the mempool, a pending transaction dropped, an address blacklisted on
// the USDT contract so a transfer really reverts on chain.
import { readFile } from 'node:fs/promises';
import { Contract, Wallet, type JsonRpcProvider, type TransactionReceipt } from 'ethers';
import { inject } from 'vitest';
import { createEvmProvider } from '../../stack/evm/evm-provider.ts';
import { erc20Abi, localUsdtOwnerAbi } from '../../stack/evm/local-usdt-artifact.ts';
import { localDeployer, type LocalAccount } from '../../stack/evm/local-wallets.ts';

let sharedProvider: JsonRpcProvider | undefined;

/** One provider per test file on the stack's node (ethers' polling is shared by everything that waits). */
export function localEvmProvider(): JsonRpcProvider {
  sharedProvider ??= createEvmProvider(inject('endpoints').evmRpcUrl);
  return sharedProvider;
}

export function usdtAddress(): string {
  return inject('endpoints').usdtContractAddress;
}

export async function ethBalanceOf(address: string): Promise<bigint> {
  return localEvmProvider().getBalance(address, 'latest');
}

export async function usdtBalanceOf(address: string): Promise<bigint> {
  const usdt = new Contract(usdtAddress(), erc20Abi, localEvmProvider());
  const balance: unknown = await usdt.getFunction('balanceOf').staticCall(address);
  if (typeof balance !== 'bigint') throw new Error(`balanceOf returned ${String(balance)}`);
  return balance;
}

/** An address nobody has used: its balances start at zero, so a test can assert exact amounts. */
export function freshAddress(): string {
  return Wallet.createRandom().address;
}

/** A signer for one of the local accounts, on the shared provider. */
export function localSigner(account: LocalAccount): Wallet {
  return new Wallet(account.privateKey, localEvmProvider());
}

/** Sends ETH (wei) from a local account and waits until it is mined. */
export async function sendEth(from: LocalAccount, to: string, amountWei: bigint): Promise<TransactionReceipt> {
  const response = await localSigner(from).sendTransaction({ to, value: amountWei });
  return minedReceipt(await response.wait());
}

/** Transfers USDT (base units, 6 decimals) from a local account and waits until it is mined. */
export async function sendUsdt(from: LocalAccount, to: string, amountBaseUnits: bigint): Promise<TransactionReceipt> {
  const usdt = new Contract(usdtAddress(), erc20Abi, localSigner(from));
  const response = await usdt.getFunction('transfer').send(to, amountBaseUnits);
  return minedReceipt(await response.wait());
}

function minedReceipt(receipt: TransactionReceipt | null): TransactionReceipt {
  if (receipt === null) throw new Error('the transaction was not mined');
  return receipt;
}

/** Mints USDT (base units) to an address: the deployer owns the local contract. */
export async function mintUsdt(to: string, amountBaseUnits: bigint): Promise<void> {
  const usdt = new Contract(usdtAddress(), localUsdtOwnerAbi, localSigner(localDeployer));
  const response = await usdt.getFunction('mint').send(to, amountBaseUnits);
  minedReceipt(await response.wait());
}

/** Blacklists (or clears) an address on the local USDT: transfers from or to it revert on chain. */
export async function setUsdtBlacklisted(address: string, blacklisted = true): Promise<void> {
  const usdt = new Contract(usdtAddress(), localUsdtOwnerAbi, localSigner(localDeployer));
  const response = await usdt.getFunction('setBlacklisted').send(address, blacklisted);
  minedReceipt(await response.wait());
}

/** Turns mining of each transaction on arrival on or off (interval blocks keep coming either way). */
export async function setAutomine(enabled: boolean): Promise<void> {
  await localEvmProvider().send('evm_setAutomine', [enabled]);
}

/**
 * Runs `action` with all mining stopped — no automine, no interval blocks — so a transaction stays
 * pending for as long as the test needs; mining resumes as configured whatever happens.
 */
export async function withoutMining<T>(action: () => Promise<T>): Promise<T> {
  const { blockIntervalMs } = localEvmSettings();
  const provider = localEvmProvider();
  await provider.send('evm_setIntervalMining', [0]);
  await provider.send('evm_setAutomine', [false]);
  try {
    return await action();
  } finally {
    await provider.send('evm_setAutomine', [true]);
    await provider.send('evm_setIntervalMining', [blockIntervalMs]);
  }
}

/** Mines one block now, with whatever is in the mempool. */
export async function mineBlock(): Promise<void> {
  await localEvmProvider().send('evm_mine', []);
}

/** Removes a pending transaction from the node's mempool, as if the network forgot it. Returns whether it was there. */
export async function dropTransaction(transactionHash: string): Promise<boolean> {
  const dropped: unknown = await localEvmProvider().send('hardhat_dropTransaction', [transactionHash]);
  return dropped === true;
}

function localEvmSettings(): { pidFile: string; blockIntervalMs: number } {
  const settings = inject('localEvm');
  if (settings === null) throw new Error('EVM_RPC_URL names an external node: the local EVM cannot be paused or have its mining changed');
  return settings;
}

async function localEvmPid(): Promise<number> {
  const { pidFile } = localEvmSettings();
  const pid = Number.parseInt(await readFile(pidFile, 'utf8'), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`no pid in ${pidFile}`);
  return pid;
}

/**
 * Freezes the node (SIGSTOP): connections are accepted by the kernel but nothing answers, as with
 * a node that hangs. Always resume it (resumeLocalEvm in a finally), or the rest of the run hangs.
 */
export async function pauseLocalEvm(): Promise<void> {
  process.kill(await localEvmPid(), 'SIGSTOP');
}

export async function resumeLocalEvm(): Promise<void> {
  process.kill(await localEvmPid(), 'SIGCONT');
}

/** Runs `action` while the node is paused, and resumes it whatever happens. */
export async function whileLocalEvmPaused<T>(action: () => Promise<T>): Promise<T> {
  await pauseLocalEvm();
  try {
    return await action();
  } finally {
    await resumeLocalEvm();
  }
}

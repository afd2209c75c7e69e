// Watches the local chain for deposits to the simulator's pay-in addresses, block by block: an ETH
// deposit is a successful transaction with value to the address, a USDT deposit a Transfer log of
// the USDT contract to it. A transaction in a mined block has its first confirmation, which is all
// the simulator waits for. A node that does not answer only delays the next scan.
import { setTimeout as sleep } from 'node:timers/promises';
import { getAddress, Interface, zeroPadValue, type JsonRpcProvider } from 'ethers';
import type { Logger } from '../../core/logger.ts';
import { erc20Abi } from '../../stack/evm/local-usdt-artifact.ts';

export interface WatchedPayin {
  readonly exchangeId: string;
  readonly address: string;
  readonly asset: 'eth' | 'usdt';
  /** Only deposits in later blocks count. */
  readonly afterBlock: number;
}

export interface Deposit {
  readonly exchangeId: string;
  readonly transactionHash: string;
  readonly sender: string;
  /** Wei for ETH, 10⁻⁶ for USDT. */
  readonly amountBaseUnits: bigint;
  readonly blockNumber: number;
}

export interface PayinWatcherOptions {
  provider: JsonRpcProvider;
  usdtAddress: string;
  log: Logger;
  /** The pay-ins to look for, asked before every scan. */
  watched: () => readonly WatchedPayin[];
  onDeposit: (deposit: Deposit) => void;
  pollIntervalMs?: number;
  /** Blocks read per scan at most, so a long outage is caught up in bounded steps. */
  blocksPerScanMax?: number;
}

export interface PayinWatcher {
  /** The last block scanned: a new exchange counts deposits after it. */
  readonly scannedThrough: number;
  stop(): Promise<void>;
}

const usdtInterface = new Interface(erc20Abi);
const transferTopic = usdtInterface.getEvent('Transfer')?.topicHash;

/** Starts scanning at the current head (asked once, so the node must answer at start). */
export async function startPayinWatcher(options: PayinWatcherOptions): Promise<PayinWatcher> {
  const { provider, log } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const blocksPerScanMax = options.blocksPerScanMax ?? 50;
  let scannedThrough = await provider.getBlockNumber();
  const stopping = new AbortController();
  let failingSince: number | undefined;

  const scanOnce = async (): Promise<void> => {
    const head = await provider.getBlockNumber();
    if (head <= scannedThrough) return;
    const fromBlock = scannedThrough + 1;
    const toBlock = Math.min(head, scannedThrough + blocksPerScanMax);
    const watched = options.watched();
    const byAddress = (asset: 'eth' | 'usdt'): Map<string, WatchedPayin> =>
      new Map(watched.filter((payin) => payin.asset === asset).map((payin) => [payin.address.toLowerCase(), payin]));
    const deposits = [...(await ethDeposits(byAddress('eth'), fromBlock, toBlock)), ...(await usdtDeposits(byAddress('usdt'), fromBlock, toBlock))];
    const reported = new Set<string>();
    for (const deposit of deposits.sort((left, right) => left.blockNumber - right.blockNumber)) {
      // The first deposit counts; a second one to the same address stays on the address.
      if (reported.has(deposit.exchangeId)) continue;
      reported.add(deposit.exchangeId);
      options.onDeposit(deposit);
    }
    scannedThrough = toBlock;
  };

  const ethDeposits = async (watched: Map<string, WatchedPayin>, fromBlock: number, toBlock: number): Promise<Deposit[]> => {
    if (watched.size === 0) return [];
    const found: Deposit[] = [];
    for (let blockNumber = fromBlock; blockNumber <= toBlock; blockNumber += 1) {
      const block = await provider.getBlock(blockNumber, true);
      for (const transaction of block?.prefetchedTransactions ?? []) {
        const payin = transaction.to === null ? undefined : watched.get(transaction.to.toLowerCase());
        if (payin === undefined || transaction.value === 0n || blockNumber <= payin.afterBlock) continue;
        // A reverted transaction moved no ETH.
        const receipt = await provider.getTransactionReceipt(transaction.hash);
        if (receipt?.status !== 1) continue;
        found.push({ exchangeId: payin.exchangeId, transactionHash: transaction.hash, sender: transaction.from, amountBaseUnits: transaction.value, blockNumber });
      }
    }
    return found;
  };

  const usdtDeposits = async (watched: Map<string, WatchedPayin>, fromBlock: number, toBlock: number): Promise<Deposit[]> => {
    if (watched.size === 0 || transferTopic === undefined) return [];
    const recipients = [...watched.keys()].map((address) => zeroPadValue(address, 32));
    const logs = await provider.getLogs({ address: options.usdtAddress, fromBlock, toBlock, topics: [transferTopic, null, recipients] });
    const found: Deposit[] = [];
    for (const entry of logs) {
      const parsed = usdtInterface.parseLog(entry);
      if (parsed === null) continue;
      const [sender, recipient, value] = parsed.args as unknown as [string, string, bigint];
      const payin = watched.get(recipient.toLowerCase());
      if (payin === undefined || value === 0n || entry.blockNumber <= payin.afterBlock) continue;
      found.push({ exchangeId: payin.exchangeId, transactionHash: entry.transactionHash, sender: getAddress(sender), amountBaseUnits: value, blockNumber: entry.blockNumber });
    }
    return found;
  };

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        await scanOnce();
        if (failingSince !== undefined) log.info({ outageMs: Date.now() - failingSince }, 'the EVM node answers again; deposit scanning resumed');
        failingSince = undefined;
      } catch (error) {
        if (failingSince === undefined) {
          failingSince = Date.now();
          log.warn({ err: error }, 'scanning for deposits failed; retrying');
        }
      }
      await sleep(pollIntervalMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  };
  const running = loop();

  return {
    get scannedThrough() {
      return scannedThrough;
    },
    async stop() {
      stopping.abort();
      await running;
    },
  };
}

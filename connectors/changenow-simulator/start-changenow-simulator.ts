// Wiring of the ChangeNow v2 simulator: the HTTP API and its control API, the in-memory exchanges,
// the deposit watcher on the local chain and the hot wallet that pays out. It is a stand-in for
// tests and `npm start`, never for production: its state lives in memory, its hot wallet is the
// local chain's development account, and it listens on loopback only.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import express, { type Request, type Response } from 'express';
import type { Logger } from '../../core/logger.ts';
import type { Decimal } from '../../core/money.ts';
import { createEvmProvider } from '../../stack/evm/evm-provider.ts';
import { localExchangeWallet } from '../../stack/evm/local-wallets.ts';
import { probeEvmChainId } from '../../stack/evm/probe-evm.ts';
import { createChangeNowApiRoutes } from './changenow-api-routes.ts';
import { createControlRoutes } from './control-routes.ts';
import { createExchangeRunner } from './exchange-runner.ts';
import { createExchangeStore } from './exchange-store.ts';
import { createHotWallet } from './hot-wallet.ts';
import { createPayinAddresses } from './payin-addresses.ts';
import { startPayinWatcher } from './payin-watcher.ts';
import { createSimulatorControls } from './simulator-controls.ts';
import { sendError, SimulatorApiError } from './simulator-json.ts';
import { createSimulatorService, rangeFor } from './simulator-service.ts';

export interface ChangeNowSimulatorOptions {
  port: number;
  /** Default 127.0.0.1: the control API has no authentication. */
  host?: string;
  apiKey: string;
  ethUsd: Decimal;
  feePercent: Decimal;
  /** Between two statuses once the deposit arrived. */
  stepDelayMs: number;
  rpcUrl: string;
  usdtAddress: string;
  log: Logger;
  now?: () => Date;
  newExchangeId?: () => string;
}

export interface RunningChangeNowSimulator {
  readonly url: string;
  close(): Promise<void>;
}

/** ChangeNow ids are 14 lower-case hex digits. */
function randomExchangeId(): string {
  return randomBytes(7).toString('hex');
}

function syntheticHash(currency: string): string {
  return `simulated:${currency}:${randomBytes(32).toString('hex')}`;
}

export async function startChangeNowSimulator(options: ChangeNowSimulatorOptions): Promise<RunningChangeNowSimulator> {
  const { log } = options;
  const now = options.now ?? (() => new Date());
  const pricing = { ethUsd: options.ethUsd, feePercent: options.feePercent };
  const chainId = await probeEvmChainId(options.rpcUrl, 10_000);
  const provider = createEvmProvider(options.rpcUrl, { chainId, requestTimeoutMs: 5_000 });
  const store = createExchangeStore();
  const controls = createSimulatorControls();
  const hotWallet = createHotWallet({ provider, privateKey: localExchangeWallet.privateKey, usdtAddress: options.usdtAddress, log });

  const runner = createExchangeRunner({
    hotWallet,
    pricing,
    stepDelayMs: options.stepDelayMs,
    rangeOf: (exchange) => rangeFor(controls, exchange.pair),
    now,
    syntheticHash,
    log,
  });
  const watcher = await startPayinWatcher({
    provider,
    usdtAddress: options.usdtAddress,
    log,
    watched: () =>
      store.awaitingDeposit().map((exchange) => ({
        exchangeId: exchange.id,
        address: exchange.payinAddress,
        asset: exchange.pair.from.currency === 'eth' ? 'eth' : 'usdt',
        afterBlock: exchange.depositAfterBlock,
      })),
    onDeposit: (deposit) => {
      const exchange = store.get(deposit.exchangeId);
      if (exchange === undefined) return;
      log.info({ exchangeId: exchange.id, transactionHash: deposit.transactionHash, amountBaseUnits: deposit.amountBaseUnits.toString() }, 'deposit received');
      runner.depositArrived(exchange, deposit);
    },
  });
  const service = createSimulatorService({
    store,
    controls,
    runner,
    pricing,
    payinAddressOf: createPayinAddresses(),
    scannedThrough: () => watcher.scannedThrough,
    now,
    newExchangeId: options.newExchangeId ?? randomExchangeId,
  });

  // Requests the timeout-after-create fault leaves hanging: cut at their time, or at close.
  const hanging = new Map<Socket, NodeJS.Timeout>();
  const hangUp = (request: Request, afterMs: number): void => {
    const { socket } = request;
    const timer = setTimeout(() => {
      hanging.delete(socket);
      socket.destroy();
    }, afterMs);
    hanging.set(socket, timer);
  };

  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_request: Request, response: Response) => {
    response.json({ status: 'ok' });
  });
  app.use('/v2', createChangeNowApiRoutes({ apiKey: options.apiKey, service, controls, hangUp }));
  app.use('/simulator', createControlRoutes({ controls, store, verifyingMsDefault: Math.max(2_000, options.stepDelayMs * 5) }));
  app.use((_request: Request, response: Response) => {
    sendError(response, new SimulatorApiError(404, 'not_found', 'No such endpoint'));
  });
  app.use((error: unknown, _request: Request, response: Response, _next: express.NextFunction) => {
    log.error({ err: error }, 'simulator request failed');
    if (!response.headersSent) sendError(response, new SimulatorApiError(500, 'internal_error', 'Internal error'));
  });

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve, reject) => {
    const candidate = app.listen(options.port, host);
    candidate.once('listening', () => resolve(candidate));
    candidate.once('error', reject);
  });
  const url = `http://${host}:${options.port}`;
  log.info({ url, chainId: chainId.toString(), hotWallet: hotWallet.address }, 'ChangeNow simulator listening');

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [socket, timer] of hanging) {
      clearTimeout(timer);
      socket.destroy();
    }
    hanging.clear();
    server.closeIdleConnections();
    await watcher.stop();
    await runner.stop();
    server.closeAllConnections();
    await closed;
    provider.destroy();
  };
  return { url, close: () => (closing ??= close()) };
}

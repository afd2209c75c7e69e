// Wiring of the chain connector process (consumer group `chain`): it consumes transfer-requests
// through the shared runtime (inbox claim by transfer_id, the request recorded in the same
// transaction, dead letters for requests that break a rule), and runs the worker
// (chain-worker.ts) after every committed chunk and every CHAIN_POLL_INTERVAL, and again at once
// while a pass leaves requests queued. Any number of
// instances may run: the topic has one partition, and the worker signs and sends in one instance
// at a time (the sender's advisory lock); the others are hot standbys.
import { createLogger } from '../../core/logger.ts';
import { clockOf } from '../../core/clock.ts';
import { startConsumerProcess, type RunningConsumerProcess, type ConsumerProcessStartOptions } from '../../core/processing/consumer-process.ts';
import { InvariantViolation } from '../../core/errors.ts';
import { hostWalletPrivateKey } from '../host-wallet.ts';
import { chainSettingsOf } from './chain-settings.ts';
import { createChainMetrics, type ChainMetrics } from './chain-metrics.ts';
import { createChainWorker } from './chain-worker.ts';
import { createEvmRpc } from './evm-rpc.ts';
import { createTransferRequestProcessor } from './transfer-request-handler.ts';
import { createTransferSigner } from './transfer-transaction.ts';

export const chainConsumerGroup = 'chain';

export type StartChainConnectorOptions = ConsumerProcessStartOptions;

export async function startChainConnector(options: StartChainConnectorOptions): Promise<RunningConsumerProcess> {
  const { config, endpoints } = options;
  // Both read before anything opens: a missing key or a bad fee cap stops the process at once.
  const settings = chainSettingsOf(config);
  const signer = createTransferSigner(hostWalletPrivateKey(config));
  const log = options.log ?? createLogger({ name: chainConsumerGroup, level: config.LOG_LEVEL });
  const clock = clockOf(options.now);
  const now = (): Date => clock.now();
  const rpc = createEvmRpc({ url: endpoints.evmRpcUrl, timeoutMs: settings.rpcTimeoutMs });
  let metrics: ChainMetrics | undefined;

  const running = await startConsumerProcess({
    name: chainConsumerGroup,
    config,
    endpoints,
    port: options.port ?? config.CHAIN_CONNECTOR_PORT,
    log,
    clock,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
    createProcessor: () =>
      createTransferRequestProcessor({ rules: { senderAddress: signer.address, usdtContractAddress: endpoints.usdtContractAddress }, log }),
    punctuationIntervalMs: settings.pollIntervalMs,
    worker: (resources) => {
      // /ready reports the node too: a connector that cannot reach it cannot move money.
      resources.probes['evm'] = async () => {
        await rpc.chainId();
      };
      const chainMetrics = createChainMetrics(resources.metrics);
      metrics = chainMetrics;
      const worker = createChainWorker({
        pool: resources.pool,
        rpc,
        signer,
        usdtContractAddress: endpoints.usdtContractAddress,
        settings,
        log,
        metrics: chainMetrics,
        now,
      });
      // A nonce gap that stops sending makes the connector not ready, with the finding's reason.
      resources.probes['nonce'] = () => {
        const finding = worker.nonceFinding();
        return finding?.blocksSending === true ? Promise.reject(new Error(`${finding.status}: ${finding.reason ?? ''}`)) : Promise.resolve();
      };
      return async () => {
        try {
          // A pass that took a full page of requests runs again at once instead of waiting for the
          // next poll: a mass payout is carried page after page. Bounded: such a pass moved its
          // whole page out of `requested` (signed or refused), so the queue shrinks each time.
          while ((await worker.runPass()).moreQueued);
        } catch (error) {
          // Nothing changed state on the failed step (see chain-worker.ts); the next trigger, at
          // the latest the next poll, tries again. A broken invariant will not fix itself.
          if (error instanceof InvariantViolation) log.fatal({ err: error, alert: true }, 'chain worker broke an invariant');
          else log.warn({ err: error }, 'chain worker pass failed; the next poll tries again');
        }
      };
    },
  });
  if (metrics === undefined) throw new InvariantViolation('the consumer process built the chain worker');
  log.info({ senderAddress: signer.address, usdtContractAddress: endpoints.usdtContractAddress, confirmations: settings.confirmations }, 'chain connector running');
  return running;
}

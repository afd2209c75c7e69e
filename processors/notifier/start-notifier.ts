// Wiring of the notifier process: consumer group `notifier` on `alerts` (notifier-handler.ts plans
// the deliveries), the delivery worker on the runtime's worker hook (requested after every
// committed chunk and every NOTIFIER_POLL_INTERVAL, for the retries that come due), and the shared
// runtime's /health /ready /metrics and drain on SIGTERM.
import { clockOf } from '../../core/clock.ts';
import { createLogger } from '../../core/logger.ts';
import { startConsumerProcess, type RunningConsumerProcess, type ConsumerProcessStartOptions } from '../../core/processing/consumer-process.ts';
import { createDeliveryWorker, createNotifierMetrics } from './delivery-worker.ts';
import { createNotifierProcessor } from './notifier-handler.ts';
import { openDeliveryQueue } from './notifier-store.ts';
import { redactedUrl } from './webhook-urls.ts';

export const notifierConsumerGroup = 'notifier';

export type StartNotifierOptions = ConsumerProcessStartOptions;

export async function startNotifier(options: StartNotifierOptions): Promise<RunningConsumerProcess> {
  const { config } = options;
  const log = options.log ?? createLogger({ name: notifierConsumerGroup, level: config.LOG_LEVEL });
  const urls = config.NOTIFIER_WEBHOOK_URLS;
  if (urls.length === 0) log.warn('NOTIFIER_WEBHOOK_URLS is empty: alerts are consumed and delivered nowhere');
  else log.info({ urls: urls.map(redactedUrl) }, `delivering alerts to ${urls.length} webhook URL(s)`);
  const clock = clockOf(options.now);
  return startConsumerProcess({
    name: notifierConsumerGroup,
    config,
    endpoints: options.endpoints,
    port: options.port ?? config.NOTIFIER_PORT,
    log,
    clock,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
    createProcessor: (resources) => createNotifierProcessor({ urls, metrics: resources.metrics }),
    punctuationIntervalMs: config.NOTIFIER_POLL_INTERVAL,
    worker: (resources) => {
      const worker = createDeliveryWorker({
        queue: openDeliveryQueue(resources.pool),
        settings: {
          attemptsMax: config.NOTIFIER_ATTEMPTS_MAX,
          backoffInitialMs: config.NOTIFIER_BACKOFF_INITIAL,
          backoffMaxMs: config.NOTIFIER_BACKOFF_MAX,
          requestTimeoutMs: config.NOTIFIER_REQUEST_TIMEOUT,
          concurrency: 8,
        },
        consumer: notifierConsumerGroup,
        log,
        metrics: createNotifierMetrics(resources.metrics),
        now: () => clock.now(),
      });
      return async () => {
        try {
          // A full page runs again at once; each pass moves its rows' next attempt into the future
          // (delivered, retried later or dead-lettered), so the loop ends.
          while ((await worker.runPass()).moreQueued);
        } catch (error) {
          // A claimed row whose outcome was not recorded is tried again when its lease ends.
          log.warn({ err: error }, 'notifier delivery pass failed; the next poll tries again');
        }
      };
    },
  });
}

// Structured JSON logs (pino). Every log line about a record carries its correlation id; secrets
// are redacted by path so a careless `log.info({ config })` cannot leak them.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

const redactedPaths = [
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'privateKey',
  '*.privateKey',
  // The host wallet's key as the configuration and the environment name it (chain connector).
  'HOST_WALLET_PRIVATE_KEY',
  '*.HOST_WALLET_PRIVATE_KEY',
  'password',
  '*.password',
  'headers.authorization',
  'headers["x-nowpayments-sig"]',
  'headers["x-changenow-api-key"]',
];

export interface LoggerOptions {
  name: string;
  level?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino({
    name: options.name,
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: { paths: redactedPaths, censor: '[redacted]' },
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

// The host wallet's key, from HOST_WALLET_PRIVATE_KEY or the file HOST_WALLET_KEY_FILE names
// (a mounted secret). The key itself is returned only to the signer; everything else gets the
// address. Neither the key nor the file's content ever appears in an error or a log line.
import { readFileSync } from 'node:fs';
import { Wallet } from 'ethers';
import type { Config } from '../core/config.ts';
import { PipelineError } from '../core/errors.ts';

const privateKeyPattern = /^0x[0-9a-fA-F]{64}$/;

export function hostWalletPrivateKey(config: Config): string {
  if (config.HOST_WALLET_PRIVATE_KEY !== undefined) return config.HOST_WALLET_PRIVATE_KEY;
  if (config.HOST_WALLET_KEY_FILE === undefined) {
    throw new PipelineError('HOST_WALLET_PRIVATE_KEY or HOST_WALLET_KEY_FILE is required to run the connectors.');
  }
  let content: string;
  try {
    content = readFileSync(config.HOST_WALLET_KEY_FILE, 'utf8').trim();
  } catch (error) {
    throw new PipelineError(`HOST_WALLET_KEY_FILE ${config.HOST_WALLET_KEY_FILE} cannot be read: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
  }
  if (!privateKeyPattern.test(content)) {
    throw new PipelineError(`HOST_WALLET_KEY_FILE ${config.HOST_WALLET_KEY_FILE} does not hold 0x followed by 64 hex digits.`);
  }
  return content;
}

export function hostWalletAddress(config: Config): string {
  return new Wallet(hostWalletPrivateKey(config)).address;
}

// Proves a restarted chain cannot wedge the chain connector in silence, on real processes: the
// connector, run against a fresh Hardhat node after it paid on the stack's chain, reports the gap
// (chain_nonce_gaps, the chain_nonce_gap metric, /ready) and signs nothing there — also when the
// new chain is adopted and only the nonces disagree — then pays the held transfer once back on its
// own chain; and `npm start`'s coherence check on a real native stack (PostgreSQL and the EVM in
// STACK_DATA_DIR) refuses a kept ledger under a fresh chain, until `stack reset --yes` (which
// deletes nothing without --yes or while the stack runs) and a new start bring a coherent stack.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { createDatabasePool } from '../db/pool.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { checkChainCoherence } from '../stack/evm/chain-coherence.ts';
import { startLocalEvm, type RunningLocalEvm } from '../stack/evm/start-local-evm.ts';
import { localHostWallet } from '../stack/evm/local-wallets.ts';
import { findFreePort } from '../stack/service.ts';
import { startStack } from '../stack/start-stack.ts';
import { openTestDatabase } from './support/database.ts';
import { eventually } from './support/eventually.ts';
import { ethBalanceOf, freshAddress } from './support/local-evm.ts';
import { startProcessorProcess, type ProcessorProcess } from './support/processor-process.ts';
import { openTopicProducer, type TopicProducer } from './support/topic-producer.ts';
import { hostNonce, requestTransfer, storedTransferOf, transferRequest, waitForTransferState } from './support/chain-transfers.ts';

const connectorEnvironment = { CHAIN_POLL_INTERVAL: '200ms', CHAIN_CONFIRMATIONS: '2', KAFKA_SESSION_TIMEOUT: '6s', KAFKA_REBALANCE_TIMEOUT: '10s' };
const log = createLogger({ name: 'chain-restart-test', level: 'warn' });

let database: DatabasePool;
let producer: TopicProducer;
let connector: ProcessorProcess | undefined;
let freshNode: RunningLocalEvm | undefined;
const temporaryDirectories: string[] = [];

beforeAll(async () => {
  database = await openTestDatabase();
  producer = await openTopicProducer(inject('endpoints'));
});

afterAll(async () => {
  await connector?.kill();
  await freshNode?.stop();
  await producer?.close();
  await database?.end();
  for (const directory of temporaryDirectories) await rm(directory, { recursive: true, force: true });
});

async function temporaryDirectory(prefix: string): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), prefix));
  temporaryDirectories.push(directory);
  // PostgreSQL runs as its own OS user when the tests run as root: it must be able to enter.
  await chmod(directory, 0o755);
  return directory;
}

const gapRow = z.object({ status: z.string(), gap: z.bigint(), ledger_next_nonce: z.bigint(), node_mined_nonce: z.bigint(), reason: z.string().nullable() });

async function nonceGaps(): Promise<z.infer<typeof gapRow>[]> {
  return [
    ...(await database.any(sql.type(gapRow)`
      SELECT status, gap, ledger_next_nonce, node_mined_nonce, reason FROM chain_nonce_gaps WHERE sender_address = ${localHostWallet.address}`)),
  ];
}

async function readiness(url: string): Promise<{ status: number; checks: Record<string, string> }> {
  const response = await fetch(`${url}/ready`);
  return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
}

async function genesisOf(rpcUrl: string): Promise<string> {
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBlockByNumber', params: ['0x0', false] }),
  });
  return ((await response.json()) as { result: { hash: string } }).result.hash;
}

function runCli(args: readonly string[], environment: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...environment } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('a chain restarted under a kept ledger', () => {
  it('is reported as a nonce gap, nothing is sent on it, and the held transfer is paid once back on its own chain', async () => {
    const stackRpcUrl = inject('endpoints').evmRpcUrl;
    connector = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: connectorEnvironment, readyTimeoutMs: 120_000 });
    const paid = transferRequest('ETH', freshAddress(), 3n * 10n ** 15n);
    await requestTransfer(producer, paid);
    await waitForTransferState(database, paid.transfer_id, 'confirmed');
    const ledgerNextNonce = await database.oneFirst(sql.type(z.object({ next_nonce: z.bigint() }))`
      SELECT next_nonce FROM chain_senders WHERE sender_address = ${localHostWallet.address}`);
    expect(BigInt(await hostNonce())).toBe(ledgerNextNonce);
    await connector.terminate();

    // A fresh Hardhat node: same chain id, same accounts and USDT address, nothing ever sent.
    freshNode = await startLocalEvm({ port: await findFreePort(), blockIntervalMs: 1_000, dataDirectory: await temporaryDirectory('fresh-evm-'), log });
    connector = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: { ...connectorEnvironment, EVM_RPC_URL: freshNode.rpcUrl }, waitReady: false });
    const url = connector.url;
    const ready = await eventually(
      async () => {
        const answer = await readiness(url);
        if (answer.status !== 503 || !(answer.checks['nonce'] ?? '').startsWith('chain_changed')) throw new Error(`not reporting the gap yet: ${JSON.stringify(answer)}`);
        return answer;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(ready.checks['nonce']).toMatch(/stack reset --yes/);
    const [changed] = await nonceGaps();
    expect(changed).toMatchObject({ status: 'chain_changed', gap: ledgerNextNonce, ledger_next_nonce: ledgerNextNonce, node_mined_nonce: 0n });
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(new RegExp(`chain_nonce_gap\\{status="chain_changed"[^}]*\\} ${ledgerNextNonce}\\n`));

    const held = transferRequest('ETH', freshAddress(), 4n * 10n ** 15n);
    await requestTransfer(producer, held);
    const waiting = await eventually(async () => {
      const stored = await storedTransferOf(database, held.transfer_id);
      if (stored?.waiting_reason?.startsWith('nonce gap: ') !== true) throw new Error(`not held yet: ${JSON.stringify(stored?.waiting_reason)}`);
      return stored;
    });
    expect(waiting).toMatchObject({ state: 'requested', tx_hash: null });

    // Someone adopts the new chain for this database: the nonces alone still show the gap.
    const stackGenesis = await genesisOf(stackRpcUrl);
    await database.query(sql.unsafe`UPDATE chain_identities SET genesis_block_hash = ${await genesisOf(freshNode.rpcUrl)} WHERE chain_id = 31337`);
    try {
      const behind = await eventually(async () => {
        const [row] = await nonceGaps();
        if (row?.status !== 'node_behind') throw new Error(`status ${row?.status}`);
        return row;
      });
      expect(behind).toMatchObject({ gap: ledgerNextNonce, node_mined_nonce: 0n });
      expect(behind.reason).toMatch(new RegExp(`mined nonce of the host wallet is 0 but the ledger used every nonce below ${ledgerNextNonce}`));
      expect((await readiness(url)).checks['nonce']).toMatch(/^node_behind: /);
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(new RegExp(`chain_nonce_gap\\{status="node_behind"[^}]*\\} ${ledgerNextNonce}\\n`));
      // Nothing was ever sent to the fresh chain from the host wallet.
      const freshCount = await fetch(freshNode.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getTransactionCount', params: [localHostWallet.address, 'pending'] }),
      });
      expect(((await freshCount.json()) as { result: string }).result).toBe('0x0');
      expect(await storedTransferOf(database, held.transfer_id)).toMatchObject({ state: 'requested', tx_hash: null });
    } finally {
      await database.query(sql.unsafe`UPDATE chain_identities SET genesis_block_hash = ${stackGenesis} WHERE chain_id = 31337`);
    }

    await connector.terminate();
    await freshNode.stop();
    freshNode = undefined;
    connector = await startProcessorProcess('chain', 'CHAIN_CONNECTOR_PORT', { environment: connectorEnvironment, readyTimeoutMs: 120_000 });
    await waitForTransferState(database, held.transfer_id, 'confirmed');
    expect(await ethBalanceOf(held.to_address)).toBe(held.amount_base_units);
    expect(BigInt(await hostNonce())).toBe(ledgerNextNonce + 1n);
    await eventually(async () => expect(await nonceGaps()).toEqual([]));
    await connector.terminate();
    connector = undefined;
  }, 360_000);

  it('stops `npm start` on a native stack whose chain restarted under its ledger, until `stack reset --yes` and a new start', async () => {
    const dataDirectory = await temporaryDirectory('stack-reset-');
    const endpoints = inject('endpoints');
    const environment = {
      STACK_MODE: 'native',
      STACK_DATA_DIR: dataDirectory,
      // Kafka and the registry of the test stack; PostgreSQL and the EVM are this stack's own.
      KAFKA_BROKERS: endpoints.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: endpoints.schemaRegistryUrl,
      CHANGENOW_API_URL: endpoints.changeNowApiUrl,
      POSTGRES_PORT: String(await findFreePort()),
      EVM_PORT: String(await findFreePort()),
      LOG_LEVEL: 'warn',
    };
    const config = loadConfig(environment);
    const startAndCheck = async (plantHistory: boolean): Promise<Awaited<ReturnType<typeof checkChainCoherence>>> => {
      const stack = await startStack({ config, log });
      try {
        await migrateDatabase({ databaseUrl: stack.endpoints.databaseUrl, log });
        const pool = await createDatabasePool(stack.endpoints.databaseUrl);
        try {
          const coherence = await checkChainCoherence(pool, stack.endpoints.evmRpcUrl, new Date());
          if (plantHistory) {
            await pool.query(sql.unsafe`INSERT INTO chain_senders (sender_address, next_nonce, updated_at) VALUES (${localHostWallet.address}, 950, now())`);
          }
          return coherence;
        } finally {
          await pool.end();
        }
      } finally {
        await stack.stop();
      }
    };

    expect((await startAndCheck(true)).kind).toBe('recorded');
    // Ctrl-C and `npm start` again: PostgreSQL kept the ledger, the chain starts from nothing.
    const stack = await startStack({ config, log });
    try {
      const pool = await createDatabasePool(stack.endpoints.databaseUrl);
      try {
        const coherence = await checkChainCoherence(pool, stack.endpoints.evmRpcUrl, new Date());
        expect(coherence.kind).toBe('incoherent');
        expect(coherence.kind === 'incoherent' && coherence.message).toMatch(/the host wallet's next nonce 950.*npm run cli -- stack reset --yes/s);
      } finally {
        await pool.end();
      }
      const whileRunning = await runCli(['stack', 'reset', '--yes'], environment);
      expect(whileRunning.code).toBe(1);
      expect(whileRunning.output).toMatch(/not deleted: the stack still runs on/);
      expect(existsSync(dataDirectory)).toBe(true);
    } finally {
      await stack.stop();
    }

    const unconfirmed = await runCli(['stack', 'reset'], environment);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.output).toMatch(/Run again with --yes to delete it/);
    expect(existsSync(path.join(dataDirectory, 'postgres'))).toBe(true);
    const reset = await runCli(['stack', 'reset', '--yes'], environment);
    expect(reset.code).toBe(0);
    expect(existsSync(dataDirectory)).toBe(false);

    expect((await startAndCheck(false)).kind).toBe('recorded');
  }, 480_000);
});

// Proves the JSON-RPC transport tells the three outcomes apart — a result (parsed), the node saying
// no (EvmRpcError with its code and message, never retried), and no usable answer (timeout, refused
// connection, HTTP error page, a result of the wrong shape: EvmUnavailableError, retried) — against
// a throw-away HTTP server that answers like a node would.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvmRpcError, EvmUnavailableError, rejectionOf } from './evm-errors.ts';
import { createEvmRpc, type BatchAnswer } from './evm-rpc.ts';

type Answer = { status: number; body: string } | 'hang';
let answer: Answer = { status: 200, body: '{}' };
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (answer === 'hang') return;
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The error of a batch answer that failed; undefined for one that succeeded. */
const errorOf = (batchAnswer: BatchAnswer<unknown> | undefined): unknown => (batchAnswer === undefined || batchAnswer.ok ? undefined : batchAnswer.error);

const answerWith = (status: number, body: unknown): void => {
  answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) };
};

describe('createEvmRpc', () => {
  // Answered calls get a timeout no loaded machine reaches; only the hanging call waits for a short one.
  const rpc = (timeoutMs = 30_000): ReturnType<typeof createEvmRpc> => createEvmRpc({ url, timeoutMs });

  it('parses hex quantities into bigint and null receipts as null', async () => {
    answerWith(200, { jsonrpc: '2.0', id: 1, result: '0x1d6329f1c35ca4bfabb9f5610000000000' });
    expect(await rpc().balance('0x70997970C51812dc3A010C7d01b50e0d17dc79C8', 'latest')).toBe(0x1d6329f1c35ca4bfabb9f5610000000000n);
    answerWith(200, { jsonrpc: '2.0', id: 1, result: null });
    expect(await rpc().transactionReceipt(`0x${'ab'.repeat(32)}`)).toBeNull();
  });

  it('turns a JSON-RPC error into EvmRpcError with the node message, even when the HTTP status is 500', async () => {
    answerWith(200, { jsonrpc: '2.0', id: 1, error: { code: -32003, message: 'Nonce too low. Expected nonce to be 4 but got 3.' } });
    const error = await rpc().sendRawTransaction('0x02').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EvmRpcError);
    expect(rejectionOf(error as EvmRpcError)).toBe('nonce-too-low');
    answerWith(500, { jsonrpc: '2.0', id: 1, error: { code: 3, message: 'execution reverted', data: '0x08c379a0' } });
    const reverted = await rpc().estimateGas({ to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' }).catch((caught: unknown) => caught);
    expect(reverted).toMatchObject({ code: 3, data: '0x08c379a0' });
  });

  it('turns no answer, an HTTP error page and a malformed result into EvmUnavailableError', async () => {
    answer = 'hang';
    await expect(rpc(300).chainId()).rejects.toThrow(new EvmUnavailableError('eth_chainId', 'no answer within 300 ms'));
    answerWith(502, '<html>Bad Gateway</html>');
    await expect(rpc().chainId()).rejects.toBeInstanceOf(EvmUnavailableError);
    answerWith(200, { jsonrpc: '2.0', id: 1, result: 'not hex' });
    await expect(rpc().chainId()).rejects.toBeInstanceOf(EvmUnavailableError);
    await expect(createEvmRpc({ url: 'http://127.0.0.1:1', timeoutMs: 300 }).chainId()).rejects.toBeInstanceOf(EvmUnavailableError);
  });

  it('sends a batch in one request and gives each call its own answer, matched by id whatever the order', async () => {
    const hash = `0x${'cd'.repeat(32)}`;
    // A fresh transport numbers its calls from 1: ids 1, 2, 3 in the order given.
    answerWith(200, [
      { jsonrpc: '2.0', id: 3, error: { code: -32003, message: 'Nonce too low. Expected nonce to be 4 but got 3.' } },
      { jsonrpc: '2.0', id: 1, result: hash },
    ]);
    const [first, second, third] = await rpc().sendRawTransactions(['0x01', '0x02', '0x03']);
    expect(first).toEqual({ ok: true, value: hash });
    // No answer for the second: its outcome is unknown, as for a lone call that got none.
    expect(errorOf(second)).toBeInstanceOf(EvmUnavailableError);
    const refused = errorOf(third);
    expect(refused).toBeInstanceOf(EvmRpcError);
    expect(rejectionOf(refused as EvmRpcError)).toBe('nonce-too-low');
  });

  it('answers every call of a batch with EvmUnavailableError when the node gives no batch answer', async () => {
    answerWith(200, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'batch too large' } });
    const answers = await rpc().transactionReceipts([`0x${'ab'.repeat(32)}`, `0x${'ef'.repeat(32)}`]);
    expect(answers).toHaveLength(2);
    for (const each of answers) expect(errorOf(each)).toBeInstanceOf(EvmUnavailableError);
    answer = 'hang';
    const [timedOut] = await rpc(300).estimateGasAll([{ to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' }]);
    expect(errorOf(timedOut)).toBeInstanceOf(EvmUnavailableError);
    expect(await rpc().transactions([])).toEqual([]);
  });
});

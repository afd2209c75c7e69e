// The console's static serving through HTTP, on a built console of its own in a temporary folder:
// index.html for every console path, hashed assets cached for good, the CSP on every answer, the
// settings the page reads, and a clear 503 while the console is not built.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountErrorHandlers } from '../../core/http/http-errors.ts';
import { consoleContentSecurityPolicy, mountConsole } from './console-static.ts';

let directory: string;
const servers: Server[] = [];

async function serve(consoleDirectory: string): Promise<string> {
  const app = express();
  mountConsole(app, { directory: consoleDirectory, explorerTxUrl: 'https://explorer.example/tx/{tx}' });
  mountErrorHandlers(app, { retryAfterSeconds: 1 });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  directory = `${await mkdtemp(path.join(tmpdir(), 'console-static-'))}/`;
  await mkdir(`${directory}assets`);
  await writeFile(`${directory}index.html`, '<!doctype html><title>console</title>');
  await writeFile(`${directory}assets/index-abc123.js`, 'console.log(1)');
});

afterAll(async () => {
  for (const server of servers) server.close();
  await rm(directory, { recursive: true, force: true });
});

describe('the console at /console', () => {
  it('answers index.html, never cached, with the CSP, for every console path', async () => {
    const url = await serve(directory);
    for (const route of ['/console/', '/console/clients/-1001', '/console/payout-batches/b-1']) {
      const response = await fetch(`${url}${route}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<title>console</title>');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toBe(consoleContentSecurityPolicy);
    }
    const bare = await fetch(`${url}/console`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/console/');
  });

  it('serves hashed assets as immutable and a missing asset as 404, not the page', async () => {
    const url = await serve(directory);
    const asset = await fetch(`${url}/console/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-security-policy')).toBe(consoleContentSecurityPolicy);
    expect((await fetch(`${url}/console/assets/gone.js`)).status).toBe(404);
  });

  it('gives the page its settings', async () => {
    const url = await serve(directory);
    expect(await (await fetch(`${url}/console/settings.json`)).json()).toEqual({ explorer_tx_url: 'https://explorer.example/tx/{tx}' });
  });

  it('answers 503 naming the build command while the console is not built', async () => {
    const url = await serve(path.join(directory, 'missing/'));
    const response = await fetch(`${url}/console/`);
    expect(response.status).toBe(503);
    expect(JSON.stringify(await response.json())).toContain('npm run build:console');
  });
});

// Proves the README's IPN signing recipes give the signature the webhook verifies: every
// `SIG=$(…)` line of the README is run in bash over a body with integer-like keys ("9", "10"),
// whose order is where a generic key sort and the server's canonical JSON differ.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'lossless-json';
import { signIpn } from '../processors/webhook/ipn-signature.ts';
import { localIpnSecret } from './up.ts';

const run = promisify(execFile);
const repository = fileURLToPath(new URL('..', import.meta.url));
const body =
  '{"payment_id":5077125051,"payment_status":"finished","price_amount":50,"price_currency":"usd","outcome_amount":0.021087,' +
  '"order_id":"PP1|-1001234567890|6271402111|42","fee":{"10":0.0001,"9":0.0002,"currency":"eth"}}';
let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'ipn-sign-'));
  await writeFile(path.join(directory, 'ipn.json'), body);
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function readmeSigningRecipes(): Promise<string[]> {
  const readme = await readFile(path.join(repository, 'README.md'), 'utf8');
  // A command line, in a code block or a comment there; not the prose that mentions the pattern.
  return [...readme.matchAll(/SIG=(\$\([^`]+\))\s*$/gm)].map((match) => match[1] ?? '');
}

it('every signing recipe of the README signs exactly as the server verifies', async () => {
  const recipes = await readmeSigningRecipes();
  expect(recipes.length).toBeGreaterThan(0);
  const expected = signIpn(parse(body), localIpnSecret);
  // The recipes sign with the local development secret, as `npm start` runs the webhook.
  const environment = { ...process.env };
  delete environment['NOWPAYMENTS_IPN_SECRET'];
  for (const recipe of recipes) {
    const command = `printf '%s' ${recipe.replaceAll('ipn.json', path.join(directory, 'ipn.json'))}`;
    const { stdout } = await run('bash', ['-c', command], { cwd: repository, env: environment, timeout: 60_000 });
    expect({ recipe, signature: stdout.trim() }).toEqual({ recipe, signature: expected });
  }
}, 120_000);

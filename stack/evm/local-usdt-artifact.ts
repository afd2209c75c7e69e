// The committed build of the local USDT contract (stack/evm/build-usdt-artifact.ts writes it):
// what the stack deploys, and the ABI the simulator and tests call it with.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const localUsdtArtifactPath = fileURLToPath(new URL('./artifacts/LocalUsdt.json', import.meta.url));

const artifactSchema = z
  .object({
    contractName: z.literal('LocalUsdt'),
    solcVersion: z.string().min(1),
    sourcesSha256: z.string().regex(/^[0-9a-f]{64}$/),
    abi: z.array(z.unknown()).min(1),
    bytecode: z.string().regex(/^0x[0-9a-f]+$/),
  })
  .strict();

export type LocalUsdtArtifact = z.infer<typeof artifactSchema>;

export function parseLocalUsdtArtifact(value: unknown): LocalUsdtArtifact {
  return artifactSchema.parse(value);
}

export async function loadLocalUsdtArtifact(): Promise<LocalUsdtArtifact> {
  return parseLocalUsdtArtifact(JSON.parse(await readFile(localUsdtArtifactPath, 'utf8')));
}

/** The calls the project makes on any USDT contract (ERC-20 with 6 decimals), human-readable for ethers. */
export const erc20Abi = [
  'function decimals() view returns (uint8)',
  'function balanceOf(address account) view returns (uint256)',
  'function totalSupply() view returns (uint256)',
  'function transfer(address to, uint256 value) returns (bool)',
  'event Transfer(address indexed from, address indexed to, uint256 value)',
] as const;

/** The local contract's extras: the owner mints and blacklists (a transfer from or to a blacklisted address reverts). */
export const localUsdtOwnerAbi = [
  'function mint(address to, uint256 amount)',
  'function setBlacklisted(address account, bool blacklisted)',
  'function isBlacklisted(address account) view returns (bool)',
  'error BlacklistedAccount(address account)',
] as const;

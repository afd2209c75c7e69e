// Compiles the local USDT contract with the solc-js compiler installed from npm (never a compiler
// download) into the committed artifact stack/evm/artifacts/LocalUsdt.json. The stack deploys that
// artifact, so starting it needs no compiler; `--check` fails when the contract, its OpenZeppelin
// imports or the compiler changed without the artifact being rebuilt.
//
//   npx tsx stack/evm/build-usdt-artifact.ts [--check]      (npm run evm:build [-- --check])
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import solcUntyped from 'solc';
import { PipelineError } from '../../core/errors.ts';
import { localUsdtArtifactPath, parseLocalUsdtArtifact, type LocalUsdtArtifact } from './local-usdt-artifact.ts';

const contractSourceName = 'contracts/LocalUsdt.sol';
const contractName = 'LocalUsdt';
const contractFile = fileURLToPath(new URL('./contracts/LocalUsdt.sol', import.meta.url));
const requireFromHere = createRequire(import.meta.url);

// Explicit, so the bytecode does not change with a compiler default. Prague is also the local
// node's hardfork (stack/evm/hardhat.config.cjs).
const compilerSettings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'prague',
  outputSelection: { [contractSourceName]: { [contractName]: ['abi', 'evm.bytecode.object'] } },
} as const;

type ImportResult = { contents: string } | { error: string };

/** The part of solc-js used here; its own typings declare everything `any`. */
interface SolcCompiler {
  compile(standardJsonInput: string, callbacks: { import: (sourceName: string) => ImportResult }): string;
  version(): string;
}
const solc = solcUntyped as unknown as SolcCompiler;

interface CompilerMessage {
  severity: 'error' | 'warning' | 'info';
  formattedMessage: string;
}

interface CompilerOutput {
  errors?: CompilerMessage[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

/** Reads the sources solc asks for: ours by its source name, imports from node_modules. */
function readImport(sourceName: string): ImportResult {
  try {
    return { contents: readFileSync(requireFromHere.resolve(sourceName), 'utf8') };
  } catch (error) {
    return { error: `cannot read ${sourceName}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Compiles the contract and returns the artifact; the sources hash covers every file solc read. */
export async function compileLocalUsdt(): Promise<LocalUsdtArtifact> {
  const sources = new Map<string, string>([[contractSourceName, await readFile(contractFile, 'utf8')]]);
  const input = {
    language: 'Solidity',
    sources: { [contractSourceName]: { content: sources.get(contractSourceName) } },
    settings: compilerSettings,
  };
  const findImports = (sourceName: string): ImportResult => {
    const result = readImport(sourceName);
    if ('contents' in result) sources.set(sourceName, result.contents);
    return result;
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as CompilerOutput;
  const errors = (output.errors ?? []).filter((message) => message.severity === 'error');
  if (errors.length > 0) {
    throw new PipelineError(`solc failed to compile ${contractSourceName}:\n${errors.map((message) => message.formattedMessage).join('\n')}`);
  }
  const compiled = output.contracts?.[contractSourceName]?.[contractName];
  if (compiled === undefined) throw new PipelineError(`solc produced no ${contractName} in its output`);
  return {
    contractName,
    solcVersion: solc.version(),
    sourcesSha256: sourcesSha256(sources),
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
  };
}

function sourcesSha256(sources: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const name of [...sources.keys()].sort()) hash.update(`${name}\n${sources.get(name)}\n`);
  return hash.digest('hex');
}

/** One ABI entry per line: small, yet a contract change shows as a readable diff. */
export function formatArtifact(artifact: LocalUsdtArtifact): string {
  const field = (key: string, value: unknown): string => `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`;
  const abi = artifact.abi.map((entry) => `    ${JSON.stringify(entry)}`).join(',\n');
  const lines = [
    field('contractName', artifact.contractName),
    field('solcVersion', artifact.solcVersion),
    field('sourcesSha256', artifact.sourcesSha256),
    `  "abi": [\n${abi}\n  ]`,
    field('bytecode', artifact.bytecode),
  ];
  return `{\n${lines.join(',\n')}\n}\n`;
}

/** Writes the artifact, or with `check` fails when the committed one differs from a fresh build. */
export async function buildUsdtArtifact(options: { check: boolean; print: (line: string) => void }): Promise<void> {
  const expected = formatArtifact(await compileLocalUsdt());
  const relativePath = path.relative(process.cwd(), localUsdtArtifactPath);
  const committed = await readFile(localUsdtArtifactPath, 'utf8').catch(() => undefined);
  if (committed === expected) {
    options.print(`${relativePath} is up to date`);
    return;
  }
  if (options.check) {
    const reason = committed === undefined ? 'is missing' : describeDifference(committed, expected);
    throw new PipelineError(`${relativePath} ${reason}; run \`npm run evm:build\` and commit it`);
  }
  await writeFile(localUsdtArtifactPath, expected);
  options.print(`wrote ${relativePath}`);
}

function describeDifference(committed: string, expected: string): string {
  try {
    const before = parseLocalUsdtArtifact(JSON.parse(committed));
    const after = parseLocalUsdtArtifact(JSON.parse(expected));
    if (before.solcVersion !== after.solcVersion) return `was built with solc ${before.solcVersion}, the installed one is ${after.solcVersion}`;
    if (before.sourcesSha256 !== after.sourcesSha256) return 'is stale: the contract or its imports changed';
    return 'differs from a fresh build (edited by hand?)';
  } catch {
    return 'is not a valid artifact';
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildUsdtArtifact({ check: process.argv.includes('--check'), print: (line) => process.stdout.write(`${line}\n`) }).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}

// The second half of `npm run build`: the files the runtime reads next to its own modules
// (through `new URL('./…', import.meta.url)`), copied to the same relative place under dist/, so
// `node dist/cli/main.js` finds them exactly where `tsx cli/main.ts` does.
// Every runtime readFile/readdir of a path inside the package is one of these:
//   db/migrate.ts                 → db/migrations/*.sql
//   schemas/schema-files.ts       → schemas/avro/*.avsc (schemas register), schemas/history (schemas check)
//   stack/evm/local-usdt-artifact → stack/evm/artifacts/LocalUsdt.json (deploying the local USDT)
//   processors/admin/console-static → console/dist/ (the operator console, built by `vite build console` first)
// The native stack's own files (Maven poms, hardhat config) are not copied: the stack is a
// development tool and runs from the sources only.
import { cp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const runtimeAssetDirectories = ['db/migrations', 'schemas/avro', 'schemas/history', 'stack/evm/artifacts', 'console/dist'] as const;

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));

for (const directory of runtimeAssetDirectories) {
  await rm(`${dist}${directory}`, { recursive: true, force: true });
  await cp(`${root}${directory}`, `${dist}${directory}`, { recursive: true });
}
process.stdout.write(`copied ${runtimeAssetDirectories.join(', ')} into dist/\n`);

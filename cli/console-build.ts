// `npm start` serves the console from console/dist/: built here when it is missing or older than
// any of its sources, so a fresh clone and an edited console both start with a current build.
// (`npm run build` always builds it; the browser tests build it themselves.)
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from '../core/logger.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const consoleRoot = `${root}console/`;
const builtIndex = `${consoleRoot}dist/index.html`;

async function newestSourceMs(): Promise<number> {
  const sources = (await readdir(`${consoleRoot}src`, { recursive: true })).map((name) => `${consoleRoot}src/${name}`);
  const times = await Promise.all([...sources, `${consoleRoot}index.html`, `${consoleRoot}vite.config.ts`, `${root}package-lock.json`].map(async (file) => (await stat(file)).mtimeMs));
  return Math.max(...times);
}

async function builtMs(): Promise<number | null> {
  try {
    return (await stat(builtIndex)).mtimeMs;
  } catch {
    return null;
  }
}

/** Builds the console with Vite unless console/dist/ is newer than every source. */
export async function ensureConsoleBuilt(log: Logger): Promise<void> {
  const built = await builtMs();
  if (built !== null && built >= (await newestSourceMs())) return;
  log.info(built === null ? 'building the console (first start)' : 'rebuilding the console (its sources changed)');
  await promisify(execFile)('npx', ['vite', 'build', 'console', '--logLevel', 'warn'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
}

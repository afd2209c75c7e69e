// The stack's own bookkeeping files (pid files, markers, cluster ids) are absent on a first start;
// only that case means "not there yet", any other read error is a real problem.
import { readFile } from 'node:fs/promises';

/** The file's text, or undefined when it does not exist. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// A service that fails to start is explained by the end of its own output, which belongs in the
// error message; the whole log would bury it.
import { open } from 'node:fs/promises';

/** Of longer logs only the last 64 KiB are read: far more than the lines shown. */
const maxTailBytes = 64 * 1024;

/**
 * The last `lineCount` lines written to `file` since byte `sinceOffset`; empty when the file does
 * not exist. A file that shrank below the offset (rotated) is read from its start.
 */
export async function logTail(file: string, lineCount: number, sinceOffset = 0): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return '';
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(size < sinceOffset ? 0 : sinceOffset, size - maxTailBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return lastLines(buffer.toString('utf8'), lineCount);
  } finally {
    await handle.close();
  }
}

export function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

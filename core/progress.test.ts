// Proves the plain-line mode of the progress reporter (what CI logs and files get when stderr is
// not a terminal): a line at the start, one per tenth of the way however often it is updated, one
// at the end, and output passed through unchanged.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startProgress } from './progress.ts';

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('progress without a terminal', () => {
  it('writes a line per tenth, not per update, and a last line', () => {
    const lines = capture();
    const log = capture();
    const progress = startProgress({ label: 'replaying t.dlq', total: 200, unit: 'offsets', stream: lines.stream, logStream: log.stream });
    for (let done = 1; done <= 200; done += 1) progress.update(done);
    progress.log('partial ');
    progress.log('line\n');
    progress.stop();
    progress.update(5);
    const written = lines.text().trimEnd().split('\n');
    expect(written[0]).toBe('replaying t.dlq: 200 offsets to go');
    expect(written.slice(1, -1)).toEqual(Array.from({ length: 10 }, (_, index) => `replaying t.dlq: ${(index + 1) * 20}/200 offsets (${(index + 1) * 10}%)`));
    expect(written.at(-1)).toMatch(/^replaying t\.dlq: done, 200\/200 offsets in \d+\.\d s$/);
    expect(written).toHaveLength(12);
    expect(log.text()).toBe('partial line\n');
  });

  it('handles nothing to do and a total learnt late', () => {
    const lines = capture();
    const progress = startProgress({ label: 'jars', total: 0, unit: 'jars', stream: lines.stream, bar: false });
    progress.setTotal(3);
    progress.update(3);
    progress.stop();
    expect(lines.text().split('\n').filter((line) => line !== '')).toEqual(['jars: 0 jars to go', 'jars: 3/3 jars (100%)', expect.stringMatching(/^jars: done, 3\/3 jars in /)]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseProducerPerformance } from './producer-performance.ts';

describe('parseProducerPerformance', () => {
  it('reads the summary line, not the interim reports before it', () => {
    const output = [
      '223011 records sent, 44593.3 records/sec (6.38 MB/sec), 402.6 ms avg latency, 880.0 ms max latency.',
      '500000 records sent, 44700.512 records/sec (6.39 MB/sec), 380.12 ms avg latency, 901.00 ms max latency, 371 ms 50th, 812 ms 95th, 870 ms 99th, 899 ms 99.9th.',
    ].join('\n');
    expect(parseProducerPerformance(output, 'default')).toEqual({ label: 'default', records: 500_000, recordsPerSecond: 44_700.512, p50Ms: 371, p99Ms: 870 });
  });

  it('fails naming the output when the tool printed no summary', () => {
    expect(() => parseProducerPerformance('Exception in thread "main" java.lang.NoClassDefFoundError', 'default')).toThrow(/no summary line[\s\S]*NoClassDefFoundError/);
  });
});

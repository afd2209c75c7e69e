// The per-source fixed window: the headers express-rate-limit's draft-8 mode gave (same names,
// same values), a window per source, and a sweep that forgets only ended windows.
import { describe, expect, it } from 'vitest';
import { createSourceCounter } from './rate-limit.ts';

describe('per-source fixed window', () => {
  it('allows the limit within a minute, then refuses with Retry-After until the window ends', () => {
    let now = 1_000_000;
    const counter = createSourceCounter(3, () => now);
    expect(counter.hit('10.0.0.1').headers).toEqual({
      RateLimit: '"3-in-1min"; r=2; t=60',
      // base64 of the first 12 hex digits of sha256('10.0.0.1'), as express-rate-limit computes it.
      'RateLimit-Policy': `"3-in-1min"; q=3; w=60; pk=:${Buffer.from('f5047344122f').toString('base64')}:`,
    });
    now += 10_500;
    expect(counter.hit('10.0.0.1').limited).toBe(false);
    expect(counter.hit('10.0.0.1')).toMatchObject({ limited: false, headers: { RateLimit: '"3-in-1min"; r=0; t=50' } });
    const refused = counter.hit('10.0.0.1');
    expect(refused.limited).toBe(true);
    expect(refused.headers['Retry-After']).toBe('50');
    expect(counter.hit('10.0.0.2').limited).toBe(false);
    now += 49_500;
    expect(counter.hit('10.0.0.1')).toMatchObject({ limited: false, headers: { RateLimit: '"3-in-1min"; r=2; t=60' } });
  });

  it('sweeps only the sources whose window ended', () => {
    let now = 0;
    const counter = createSourceCounter(1, () => now);
    counter.hit('a');
    now = 30_000;
    counter.hit('b');
    now = 60_000;
    counter.sweep();
    // 'a' was forgotten (a fresh window), 'b' was kept (still refused).
    expect(counter.hit('a').limited).toBe(false);
    expect(counter.hit('b').limited).toBe(true);
  });
});

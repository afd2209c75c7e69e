// Named crash points for the crash tests. A connector must survive dying between any two of its
// steps (after the exchange was created but before its id was stored, after a transaction was
// signed but before it was broadcast, ...). Killing a process from outside at a random moment
// rarely lands exactly there, so the process kills itself — a real SIGKILL, no clean-up, no
// flush — when it reaches a point named in PIPELINE_FAILPOINTS (comma-separated). Unset in
// production, where `failpoint()` is a set lookup and nothing else.
const armed = new Set(
  (process.env['PIPELINE_FAILPOINTS'] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== ''),
);

export function failpoint(name: string): void {
  if (!armed.has(name)) return;
  process.stderr.write(`failpoint ${name}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
  // The signal is delivered asynchronously; never run the next step meanwhile.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
}

// Coalesces requests to run an idempotent job (the window evaluation) that many sources trigger
// at once: every NOTIFY from the router, the punctuation, each committed chunk. At most one run is
// in progress and at most one is queued behind it; any number of requests made while a run is in
// progress share the queued run, because that one run reads everything that was committed before
// it started. A burst of a thousand notifications therefore costs two evaluations, not a thousand,
// and a request is never lost: it is answered by a run that started after it was made.

export interface CoalescingRunner {
  /** Resolves when a run that started after this request has finished. */
  request(): Promise<void>;
  /** Resolves when nothing is running or queued. */
  idle(): Promise<void>;
}

/** `run` must not reject: it is expected to handle and report its own failures. */
export function createCoalescingRunner(run: () => Promise<void>): CoalescingRunner {
  let current: Promise<void> | undefined;
  let queued: Promise<void> | undefined;

  function launch(): Promise<void> {
    const started = run().finally(() => {
      if (current === started) current = undefined;
    });
    current = started;
    return started;
  }

  return {
    request() {
      // Checked first: between the end of a run and the start of the queued one, `current` is
      // already cleared, and a request then must join the queued run rather than start a third.
      if (queued !== undefined) return queued;
      if (current === undefined) return launch();
      const startQueued = (): Promise<void> => {
        queued = undefined;
        return launch();
      };
      // Started whether the current run succeeded or not, so a queue never gets stuck.
      const next = current.then(startQueued, startQueued);
      queued = next;
      return next;
    },
    async idle() {
      while (current !== undefined || queued !== undefined) {
        await (queued ?? current);
      }
    },
  };
}

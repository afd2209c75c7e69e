// Progress of long command-line work (a dead-letter replay, the benchmark run, the first download
// of Kafka's jars): a cli-progress bar on stderr when stderr is a terminal, and otherwise a plain
// line at the start, at each tenth of the way and at the end, so CI logs and files get a readable
// record instead of carriage-return animation. The bar is drawn on stderr so that stdout keeps
// only a command's results (tables, JSON) and can be piped; output shown while a bar runs goes
// through `log`, which writes it above the bar (or to stdout when there is no bar).
import { MultiBar } from 'cli-progress';

export interface Progress {
  /** Sets how far the work is, out of the total. */
  update(done: number): void;
  /** Changes the total once it is known better (Maven learns how many jars there are). */
  setTotal(total: number): void;
  /** Shows output while the bar runs: above the bar, whole lines at a time; without a bar, on stdout as it comes. */
  log(text: string): void;
  /** Ends the bar (or writes the last line); further updates are ignored. */
  stop(): void;
}

export interface ProgressOptions {
  /** What is being counted, e.g. `replaying payments-received.dlq`. */
  readonly label: string;
  readonly total: number;
  /** The unit after the counts, e.g. `records`. */
  readonly unit: string;
  /** Defaults to process.stderr. */
  readonly stream?: NodeJS.WriteStream;
  /** Whether to draw a bar; defaults to whether `stream` is a terminal. */
  readonly bar?: boolean;
  /** Where `log` writes when there is no bar; defaults to process.stdout. */
  readonly logStream?: NodeJS.WritableStream;
}

/** How far plain-line mode lets the work move between two lines: a tenth of the total. */
const plainLineSteps = 10;

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  let total = Math.max(0, options.total);
  let done = 0;
  let stopped = false;

  const logStream = options.logStream ?? process.stdout;

  if (options.bar ?? stream.isTTY === true) {
    const bars = new MultiBar({
      format: `${options.label} [{bar}] {percentage}% {value}/{total} ${options.unit} · {duration_formatted}`,
      stream,
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
    });
    const bar = bars.create(total, 0);
    let partialLine = '';
    return {
      log(text) {
        if (stopped) {
          logStream.write(text);
          return;
        }
        const lines = (partialLine + text).split('\n');
        partialLine = lines.pop() ?? '';
        for (const line of lines) bars.log(`${line}\n`);
      },
      update(value) {
        if (stopped) return;
        done = value;
        bar.update(done);
      },
      setTotal(value) {
        if (stopped) return;
        total = value;
        bar.setTotal(total);
      },
      stop() {
        if (stopped) return;
        stopped = true;
        if (partialLine !== '') bars.log(`${partialLine}\n`);
        // stop() draws the bar a last time but drops what log() buffered since the last frame.
        bars.update();
        bars.stop();
      },
    };
  }

  const started = Date.now();
  let lastStep = -1;
  const line = (text: string): void => {
    stream.write(`${options.label}: ${text}\n`);
  };
  const report = (): void => {
    const step = total === 0 ? plainLineSteps : Math.min(plainLineSteps, Math.floor((done / total) * plainLineSteps));
    if (step <= lastStep) return;
    lastStep = step;
    line(`${done}/${total} ${options.unit} (${Math.round((step / plainLineSteps) * 100)}%)`);
  };
  line(`${total} ${options.unit} to go`);
  lastStep = 0;
  return {
    log(text) {
      logStream.write(text);
    },
    update(value) {
      if (stopped) return;
      done = value;
      report();
    },
    setTotal(value) {
      if (stopped) return;
      total = value;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      line(`done, ${done}/${total} ${options.unit} in ${((Date.now() - started) / 1_000).toFixed(1)} s`);
    },
  };
}

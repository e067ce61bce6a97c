/**
 * Progress for long CLI runs (`import`, `exchange`, `encryption rotate`), always on stderr so that
 * stdout stays the command's result: a live bar when stderr is a terminal, otherwise one line per
 * 10 % (a log file or a CI job gets a readable trace instead of carriage returns).
 */
import cliProgress from 'cli-progress';

/** Where progress is written: a stream, and whether it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

/** A started progress display. */
export interface Progress {
  /** Sets how many items are done (and, when it became known or changed, the total). */
  update(done: number, total?: number): void;
  /** Ends the display (the bar stays on screen at its last value). Idempotent. */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** What is counted, as a plural noun: `chains`, `tokens`. */
  label: string;
  /** The total, when known up front (else give it with the first `update`). */
  total?: number;
  stream: ProgressStream;
  /** Force the bar (`true`) or the lines (`false`); default: the bar when `stream.isTTY`. */
  tty?: boolean;
}

/**
 * Starts a progress display on `stream`.
 *
 * @example
 * const progress = createProgress({ label: 'chains', total: 200, stream: process.stderr });
 * progress.update(20); // non-TTY: "chains: 20/200 (10 %)"
 * progress.stop();
 */
export function createProgress(options: ProgressOptions): Progress {
  const tty = options.tty ?? options.stream.isTTY === true;
  return tty ? barProgress(options) : lineProgress(options);
}

function barProgress(options: ProgressOptions): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: options.stream as NodeJS.WritableStream,
      format: `${options.label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  const start = (total: number) => {
    bar.start(total, 0);
    started = true;
  };
  if (options.total !== undefined) start(options.total);
  return {
    update(done, total) {
      if (stopped) return;
      if (!started) start(total ?? done);
      else if (total !== undefined && total !== bar.getTotal()) bar.setTotal(total);
      bar.update(done);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (started) bar.stop();
    },
  };
}

function lineProgress(options: ProgressOptions): Progress {
  let total = options.total;
  let lastDecile = 0;
  let stopped = false;
  const line = (done: number) => {
    const percent = total === undefined || total === 0 ? 100 : Math.floor((done / total) * 100);
    options.stream.write(`${options.label}: ${done}/${total ?? done} (${percent} %)\n`);
  };
  return {
    update(done, newTotal) {
      if (stopped) return;
      if (newTotal !== undefined) total = newTotal;
      const decile = total === undefined || total === 0 ? 10 : Math.floor((done / total) * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        line(done);
      }
    },
    stop() {
      // The command's summary says where the run ended; nothing more to print here.
      stopped = true;
    },
  };
}

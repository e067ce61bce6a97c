/**
 * The demo's client processes, seen from the parent: forking them, their counts as they report
 * them, and the live progress line.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ClientStats, emptyStats, type FromClient, type Setup } from './protocol.js';

/** A forked client process. */
export interface Client {
  child: ChildProcess;
  /** The client's latest counts. */
  stats(): ClientStats;
  /** Resolves when the client is set up; rejects if it fails first. */
  ready: Promise<void>;
  /** Resolves when the client has reported its final counts and exited cleanly. */
  done: Promise<void>;
}

/**
 * The client script beside this module: `client.js` once built, `client.ts` when this runs from
 * source (a child inherits the parent's `--import tsx`).
 */
function clientScript(): string {
  const self = import.meta.url;
  return fileURLToPath(new URL(self.endsWith('.ts') ? './client.ts' : './client.js', self));
}

/** Forks one client and sends it its setup. */
export function startClient(setup: Setup): Client {
  const child = fork(clientScript(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let stats = emptyStats();
  let markReady = () => {};
  const done = new Promise<void>((resolve, reject) => {
    let finished = false;
    child.on('error', reject);
    child.on('message', (message: FromClient) => {
      if (message.type === 'ready') markReady();
      else if (message.type === 'failed')
        reject(new Error(`client ${setup.index} failed: ${message.message}`));
      else {
        stats = message.stats;
        finished ||= message.type === 'done';
      }
    });
    child.on('exit', (code) => {
      if (finished && code === 0) resolve();
      else reject(new Error(`client ${setup.index} exited with code ${code} before finishing`));
    });
  });
  // A client that fails while starting fails the start, rather than leaving the parent waiting for it.
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    done.catch(reject);
  });
  child.send(setup);
  return { child, stats: () => stats, ready, done };
}

/** Where progress goes. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

/**
 * A progress line on `stream` once a second: rewritten in place on a terminal, a plain line
 * otherwise. Returns what stops it.
 */
export function startProgress(stream: ProgressStream, render: () => Promise<string>): () => Promise<void> {
  const tty = stream.isTTY === true;
  let running = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(render)
      .then((line) => {
        stream.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      })
      .catch(() => {
        // A progress line that cannot be computed (the store closing) is skipped; the report says it all.
      });
  }, 1_000);
  return async () => {
    clearInterval(timer);
    await running;
    if (tty) stream.write('\n');
  };
}

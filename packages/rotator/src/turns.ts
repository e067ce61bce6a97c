import { Fifo } from './fifo.js';

/**
 * Paces the I/O of refreshes (Slack requests, store and lock statements): a few milliseconds' worth
 * of starts per event-loop turn, and at most {@link WINDOW} store and lock operations in flight —
 * except what finishes calls, which starts at once.
 *
 * Starting I/O is synchronous work: building a request, a `write` system call per Redis command or
 * PostgreSQL statement, setting up an HTTP request. It is cheap alone and costly in a burst: when
 * every installation is due at once, a process asks for hundreds of reads, lock attempts and Slack
 * requests in one run of microtasks (each answer's continuation starts the next step), and started
 * back to back they hold the event loop for a second or more on a busy machine. Everything else in
 * that process waits it out, first of all its callers that a peer process's commit woke: their
 * wake-up is a socket message the loop cannot read until the burst ends.
 *
 * So a turn may spend {@link SLICE_MS} starting a call's first steps and a holder's refresh steps
 * (measured from the first start in it, the work between starts included); what is asked for after
 * that waits for the next turns, which run off `setImmediate`, and the loop reads its sockets between
 * two of them. A lone call starts at once; a burst costs its own calls a few milliseconds each
 * instead of stalling everyone else. Queued, the first steps of new calls (a read, a lock attempt)
 * go before the rest of this process's own refreshes, and Slack requests last.
 *
 * Answers come back in bursts too: a few hundred statements started over a few turns are answered
 * together, and the loop then runs every answer's continuation (decoding a record, the next step)
 * in one go. So no more than {@link WINDOW} store and lock operations of these stages are in flight
 * at once; the next starts when one is answered (or after {@link STALE_MS} without an answer, so a
stalled connection cannot hold up the process's other refreshes). Slack requests are not counted (they wait for
 * Slack, not for the store, and the engine bounds them with `maxConcurrentRefreshes`), nor is an
 * acquire that waits for another holder's lock (its answer waits for that holder's steps).
 *
 * What finishes calls never waits: the re-read of a caller a peer's commit woke (the Redis store
 * has the record from the message, PostgreSQL's re-reads go out together), a caller's wait for a
 * peer, the commit of a new pair, a lock's release. Each is one cheap start, asked for as an answer
 * comes in, so the answers pace them.
 *
 * Measured in the storm benchmark (docs/BENCHMARKS.md): queued for the next turn, a holder's commits
 * waited until the loop had read every Slack answer that had come in and went out 100-170 at a time,
 * each burst waking every other process's callers at once. Started at once, they woke waiting
 * processes within 10-15 ms, but a process that held hundreds of locks still read its own answers
 * (and its own waiting callers' wake-ups) 100-250 ms late, behind bursts of hundreds of answers; the
 * window ended that. Earlier: holders' steps before new calls put this process's commits in the
 * middle of every process's burst of new calls, and woken callers waited 4-6 times longer at the
 * median. One queue per process: it shares out the one event loop, whichever rotator asks.
 */

/** How long one turn may spend starting I/O (ms). */
export const SLICE_MS = 4;

/** How many paced store and lock operations may be in flight at once. */
export const WINDOW = 64;

/**
 * After this long without an answer an operation stops counting in the window (ms): a stalled store
 * (a connection that hangs) must not hold up every other refresh of the process for longer.
 */
export const STALE_MS = 1_000;

/**
 * What a start is for:
 * - `'finish'`: it completes calls or wakes other processes' callers — the re-read of a woken caller,
 *   a caller's wait for a peer's refresh, the commit of a new pair, a lock's release. Starts at once.
 * - `'new'`: the first steps of a call (its first read, its lock attempts); paced, in the window.
 * - `'hold'`: the rest of a lock holder's refresh (its reads, lease checks, intent); paced after the
 *   queued `'new'` starts, in the window.
 * - `'long'`: a Slack request, or an acquire that waits for another holder; paced after the queued
 *   `'hold'` starts, outside the window.
 */
export type Stage = 'finish' | 'new' | 'hold' | 'long';

type Start = () => void;

type Paced = Exclude<Stage, 'finish'>;
const queues: Record<Paced, Fifo<Start>> = { new: new Fifo(), hold: new Fifo(), long: new Fifo() };
const order: Paced[] = ['new', 'hold', 'long'];
let scheduled = false;
/** When the current turn's first start ran (performance.now()), until the turn ends. */
let turnStartedAt: number | undefined;
/**
 * Store and lock operations started in `'new'` and `'hold'`, not answered yet and not stale: when
 * each started (performance.now()), in the order started.
 */
const open = new Map<number, number>();
let opened = 0;
/** Set while the window is full and starts wait: when the oldest operation turns stale. */
let staleTimer: ReturnType<typeof setTimeout> | undefined;

/** How many operations stopped counting in the window because they turned stale. */
let turnedStale = 0;

/** How many paced operations of this process stopped counting in the window unanswered (see {@link STALE_MS}). */
export function staleOperations(): number {
  return turnedStale;
}

/** Whether the window has room, after dropping the operations that turned stale. */
function roomInWindow(): boolean {
  if (open.size < WINDOW) return true;
  const cutoff = performance.now() - STALE_MS;
  for (const [id, startedAt] of open) {
    if (startedAt > cutoff) break;
    open.delete(id);
    turnedStale++;
  }
  return open.size < WINDOW;
}

const waiting = () => queues.new.size + queues.hold.size + queues.long.size > 0;

/** The stage whose first queued start may go now (a window stage only while the window has room). */
function next(): Paced | undefined {
  for (const stage of order) {
    if (queues[stage].size > 0 && (stage === 'long' || roomInWindow())) return stage;
  }
  return undefined;
}

function schedule(): void {
  if (scheduled) return;
  if (next() === undefined) {
    // Starts wait for the window: if nothing is answered meanwhile, look again when the oldest
    // operation turns stale.
    const oldest = open.values().next().value;
    if (waiting() && oldest !== undefined && staleTimer === undefined) {
      staleTimer = setTimeout(
        () => {
          staleTimer = undefined;
          schedule();
        },
        Math.max(1, oldest + STALE_MS - performance.now()),
      );
      staleTimer.unref();
    }
    return;
  }
  scheduled = true;
  setImmediate(runTurn);
}

function endTurn(): void {
  turnStartedAt = undefined;
}

function runTurn(): void {
  scheduled = false;
  const startedAt = performance.now();
  turnStartedAt = startedAt;
  do {
    const stage = next();
    if (stage === undefined) break;
    queues[stage].shift()?.();
  } while (performance.now() - startedAt < SLICE_MS);
  setImmediate(endTurn);
  schedule();
}

function answered(id: number): void {
  open.delete(id);
  schedule();
}

/** Starts `start`, counting it in the window until it settles when `stage` is a window stage. */
function startNow<T>(start: () => Promise<T>, stage: Stage): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = start();
  } catch (error) {
    return Promise.reject(error);
  }
  if (stage === 'new' || stage === 'hold') {
    const id = opened++;
    open.set(id, performance.now());
    const done = () => answered(id);
    promise.then(done, done);
  }
  return promise;
}

/**
 * Runs `start` now if it is a `'finish'` start, or if this turn has time left, nothing is waiting
 * and (for `'new'` and `'hold'`) the window has room; else in a coming turn, after the queued starts
 * of its own stage and of the stages before it. Settles with what `start` returns (or throws).
 * `start` should do the synchronous part of starting the I/O and return its promise.
 */
export function inTurn<T>(start: () => Promise<T>, stage: Stage = 'new'): Promise<T> {
  if (stage === 'finish') return startNow(start, stage);
  if (!waiting() && (stage === 'long' || roomInWindow())) {
    const at = performance.now();
    if (turnStartedAt === undefined) {
      turnStartedAt = at;
      setImmediate(endTurn);
    }
    if (at - turnStartedAt < SLICE_MS) return startNow(start, stage);
  }
  return new Promise<T>((resolve, reject) => {
    queues[stage].push(() => {
      startNow(start, stage).then(resolve, reject);
    });
    schedule();
  });
}

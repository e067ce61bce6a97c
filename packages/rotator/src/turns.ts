/**
 * Starts I/O (Slack requests, store and lock statements) a few milliseconds' worth per event-loop
 * turn, in the order asked.
 *
 * Starting I/O is synchronous work: building a request, a `write` system call per Redis command or
 * PostgreSQL statement, setting up an HTTP request. It is cheap alone and costly in a burst: when
 * every installation is due at once, a process asks for hundreds of reads, lock attempts and Slack
 * requests in one run of microtasks (each answer's continuation starts the next step), and started
 * back to back they hold the event loop for a second or more on a busy machine. Everything else in
 * that process waits it out, first of all its callers that a peer process's commit woke: their
 * wake-up is a socket message the loop cannot read until the burst ends.
 *
 * So a turn may spend {@link SLICE_MS} starting I/O (measured from the first start in it, the work
 * between starts included); what is asked for after that waits for the next turns, which run off
 * `setImmediate`, and the loop reads its sockets between two of them. A lone call starts at once;
 * a burst costs its own calls a few milliseconds each instead of stalling everyone else.
 *
 * Queued starts go by {@link Stage}, then in the order asked: first the re-reads of callers a peer's
 * commit woke (each ends a call, and costs little or no I/O: the Redis store has the record from the
 * message, PostgreSQL's re-reads go out together), then what lets other calls finish (a commit, a
 * release), then the first steps of new calls (short: a read, a lock attempt), then the rest of this
 * process's own refreshes (their Slack requests wait 50 ms or more anyway). Measured in the storm benchmark (docs/BENCHMARKS.md): holders' steps before new
 * calls put this process's commits in the middle of every process's burst of new calls, and woken
 * callers waited 4-6 times longer at the median; woken re-reads queued behind a process's own
 * commits and releases made its waiters' wake-up p99 three times its peers'. One queue per process: it shares out the one
 * event loop, whichever rotator asks.
 */

/** How long one turn may spend starting I/O (ms). */
export const SLICE_MS = 4;

/**
 * Which I/O goes first when starts are queued (in this order):
 * - `'woken'`: the re-read of a caller that a peer's commit or release woke;
 * - `'finish'`: what completes calls or wakes other processes' callers: a caller's wait for a
 *   peer's refresh, the commit of a new pair, a lock's release;
 * - `'new'`: the first steps of a call (its first read, its lock attempts);
 * - `'hold'`: the rest of a lock holder's refresh (its reads, lease checks, intent, Slack request).
 */
export type Stage = 'woken' | 'finish' | 'hold' | 'new';

type Start = () => void;

/** A first-in first-out queue of starts that does not shift arrays. */
class Starts {
  private items: (Start | undefined)[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(start: Start): void {
    this.items.push(start);
  }
  shift(): Start | undefined {
    const start = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return start;
  }
}

const queues: Record<Stage, Starts> = {
  woken: new Starts(),
  finish: new Starts(),
  hold: new Starts(),
  new: new Starts(),
};
const order: Stage[] = ['woken', 'finish', 'new', 'hold'];
let scheduled = false;
/** When the current turn's first start ran (performance.now()), until the turn ends. */
let turnStartedAt: number | undefined;

const waiting = () => queues.woken.size + queues.finish.size + queues.hold.size + queues.new.size > 0;

function endTurn(): void {
  turnStartedAt = undefined;
}

function runTurn(): void {
  scheduled = false;
  const startedAt = performance.now();
  turnStartedAt = startedAt;
  do {
    const stage = order.find((s) => queues[s].size > 0);
    if (stage === undefined) break;
    queues[stage].shift()?.();
  } while (performance.now() - startedAt < SLICE_MS);
  setImmediate(endTurn);
  if (waiting()) {
    scheduled = true;
    setImmediate(runTurn);
  }
}

/**
 * Runs `start` now if this turn has time left and nothing is waiting; else in a coming turn, after
 * the queued starts of its own stage and of the stages before it. Settles with what `start` returns
 * (or throws). `start` should do the synchronous part of starting the I/O and return its promise.
 */
export function inTurn<T>(start: () => Promise<T>, stage: Stage = 'new'): Promise<T> {
  if (!waiting()) {
    const at = performance.now();
    if (turnStartedAt === undefined) {
      turnStartedAt = at;
      setImmediate(endTurn);
    }
    if (at - turnStartedAt < SLICE_MS) {
      try {
        return start();
      } catch (error) {
        return Promise.reject(error);
      }
    }
  }
  return new Promise<T>((resolve, reject) => {
    queues[stage].push(() => {
      try {
        start().then(resolve, reject);
      } catch (error) {
        reject(error);
      }
    });
    if (!scheduled) {
      scheduled = true;
      setImmediate(runTurn);
    }
  });
}

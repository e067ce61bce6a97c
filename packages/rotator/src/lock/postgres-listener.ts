import type {
  PostgresClient,
  PostgresNotification,
  PostgresPool,
  PostgresQueryResult,
} from '../store/postgres-pool.js';
import type { Scope } from './wait.js';

/**
 * Leads every statement run on the listening connection (waiters' batched looks and re-reads), so
 * that `pg_stat_activity` tells that connection apart even when its last statement is not `LISTEN`.
 */
export const LISTENER_TAG = '/* slack-rotator listener */';

/** How long the listening connection is kept after the last waiter stops (ms). */
const LINGER_MS = 5_000;
/** The first and the longest pause before connecting again after the connection was lost (ms). */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;
/** How long a message about a name counts as just heard, for {@link ReleaseListener.takeHeard} (ms). */
const HEARD_MS = 10_000;
/** How many names' last messages are remembered before the old ones are dropped. */
const HEARD_MAX = 10_000;

/**
 * Why a watcher's sleep ended: a message about its name (a release, or a commit to the chain the
 * lock guards), the connection coming up or going down (a message may have gone unheard), or time.
 */
export type WakeReason = 'heard' | 'connection' | 'timeout';

/** One waiter's view of the releases of one lock name. */
export interface ReleaseWatch {
  /** Forgets what was heard so far; call right before each attempt to take the lock. */
  arm(): void;
  /**
   * Resolves after `ms` (`'timeout'`), or sooner: when a message about the name was heard since
   * {@link arm} (`'heard'`), or when the listening connection came up or went down since then
   * (`'connection'`: a message may have gone unheard). Rejects with the scope's reason when it stops.
   */
  sleep(ms: number, scope: Scope): Promise<WakeReason>;
  /** Stops watching. */
  stop(): void;
}

/** Releases heard on one dedicated LISTEN connection, shared by every waiter of one lock. */
export interface ReleaseListener {
  /** True while the connection is listening: then a release wakes its waiters. */
  readonly listening: boolean;
  /** Starts watching `name`, connecting the listener if needed (in the background). */
  watch(name: string): ReleaseWatch;
  /**
   * True, once, if a message about `name` was heard in the last few seconds: the caller's next read
   * of what the lock guards is the one a waiter resumes with.
   */
  takeHeard(name: string): boolean;
  /**
   * When the current connection started listening (a `performance.now()` instant), or `undefined`
   * while not listening: every message sent after it is heard, or the connection is lost.
   */
  readonly listeningSince: number | undefined;
  /** True if a message about `name` was heard at or after `since` (a `performance.now()` instant). */
  heardSince(name: string, since: number): boolean;
  /**
   * Runs one statement on the listening connection, which carries nothing else: a waiter's re-read
   * and a holder's release do not queue behind the pool. `undefined` while not listening.
   */
  query(text: string, values: unknown[]): Promise<PostgresQueryResult> | undefined;
  /** Gives the connection back (destroyed) and stops for good. */
  close(): void;
}

interface Watcher {
  woken: WakeReason | undefined;
  wake: (() => void) | undefined;
}

/**
 * A listener on `channel` over a connection checked out of `pool`, held only while someone waits
 * (and {@link LINGER_MS} after). Lost connections are replaced with capped backoff; meanwhile
 * `listening` is false and the lock's waiters poll. With `pool` undefined it never listens.
 */
export function createReleaseListener(pool: PostgresPool | undefined, channel: string): ReleaseListener {
  let state: 'off' | 'connecting' | 'ready' | 'closed' = pool === undefined ? 'closed' : 'off';
  let client: PostgresClient | undefined;
  let detach: (() => void) | undefined;
  let retryAt = 0;
  let readyAt = 0;
  let retryDelay = RETRY_MIN_MS;
  let linger: ReturnType<typeof setTimeout> | undefined;
  let reconnect: ReturnType<typeof setTimeout> | undefined;
  const watchers = new Map<string, Set<Watcher>>();
  let watching = 0;
  /** The last message about each name, and when (performance.now()); pruned as it grows. */
  const heard = new Map<string, number>();
  // Statements on the listening connection go one after another: pg 8 deprecates queueing a query
  // on a client that is still running one (pg 9 removes it).
  let tail: Promise<unknown> = Promise.resolve();
  const queued = <T>(run: () => Promise<T>): Promise<T> => {
    const next = tail.then(run);
    tail = next.catch(() => undefined);
    return next;
  };

  // Read through a function: the state changes while a connection is being made.
  const isClosed = () => state === 'closed';
  // A message outranks a connection change: the waiter may return at once without a look.
  const wake = (watcher: Watcher, reason: WakeReason) => {
    if (watcher.woken !== 'heard') watcher.woken = reason;
    watcher.wake?.();
  };
  const wakeAll = () => {
    for (const set of watchers.values()) for (const watcher of set) wake(watcher, 'connection');
  };
  const noteHeard = (name: string) => {
    const at = performance.now();
    if (heard.size >= HEARD_MAX) {
      for (const [key, when] of heard) if (at - when > HEARD_MS) heard.delete(key);
      // Forgetting only costs a waiter that started late its early wake-up: the release still comes.
      if (heard.size >= HEARD_MAX) heard.clear();
    }
    heard.delete(name);
    heard.set(name, at);
  };

  /** Lets go of the current connection: back to the pool after UNLISTEN, or destroyed. */
  const letGo = (destroy: Error | boolean) => {
    const current = client;
    const undo = detach;
    client = undefined;
    detach = undefined;
    if (current === undefined) return;
    if (destroy !== false) {
      current.release(destroy);
      undo?.();
      return;
    }
    queued(() => current.query('UNLISTEN *')).then(
      () => {
        current.release();
        undo?.();
      },
      (error: unknown) => {
        current.release(error instanceof Error ? error : true);
        undo?.();
      },
    );
  };

  const lost = (error: Error | boolean) => {
    letGo(error);
    if (state === 'closed') return;
    state = 'off';
    retryAt = performance.now() + retryDelay;
    if (watching > 0) {
      // Sleeping waiters would not ask for a new connection: connect again on a timer.
      clearTimeout(reconnect);
      reconnect = setTimeout(() => {
        if (watching > 0) ensure();
      }, retryDelay + 1);
      reconnect.unref?.();
    }
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
    // The waiters look again at once, then poll until a new connection listens.
    wakeAll();
  };

  const connect = async (from: PostgresPool) => {
    state = 'connecting';
    let connection: PostgresClient;
    try {
      connection = await from.connect();
    } catch {
      lost(true);
      return;
    }
    if (isClosed()) {
      connection.release(true);
      return;
    }
    const { on, removeListener } = connection;
    if (typeof on !== 'function' || typeof removeListener !== 'function') {
      // A client that cannot emit notifications: poll for good.
      connection.release();
      state = 'closed';
      wakeAll();
      return;
    }
    const onNotification = (...args: unknown[]) => {
      const message = args[0] as PostgresNotification;
      if (message.channel !== channel) return;
      const name = message.payload ?? '';
      // Remembered even with nobody watching yet: a caller whose attempt on the lock was answered
      // "held" just before the holder committed starts watching after the message went by.
      noteHeard(name);
      for (const watcher of watchers.get(name) ?? []) wake(watcher, 'heard');
    };
    const onError = (...args: unknown[]) => {
      if (client === connection) lost(args[0] instanceof Error ? args[0] : true);
    };
    const onEnd = () => {
      if (client === connection) lost(true);
    };
    on.call(connection, 'notification', onNotification);
    on.call(connection, 'error', onError);
    on.call(connection, 'end', onEnd);
    client = connection;
    detach = () => {
      // Only once the connection is released: the pool then has its own error handler on it (an
      // error event with no handler would crash the process).
      removeListener.call(connection, 'notification', onNotification);
      removeListener.call(connection, 'error', onError);
      removeListener.call(connection, 'end', onEnd);
    };
    try {
      await connection.query(`LISTEN "${channel}"`);
    } catch (error) {
      if (client === connection) lost(error instanceof Error ? error : true);
      return;
    }
    if (client !== connection || state !== 'connecting') return;
    state = 'ready';
    readyAt = performance.now();
    retryDelay = RETRY_MIN_MS;
    // Releases before LISTEN went unheard: every waiter looks again.
    wakeAll();
    if (watching === 0) startLinger();
  };

  const ensure = () => {
    if (pool === undefined || state !== 'off' || performance.now() < retryAt) return;
    void connect(pool);
  };

  const startLinger = () => {
    clearTimeout(linger);
    linger = setTimeout(() => {
      if (watching !== 0 || state !== 'ready') return;
      state = 'off';
      letGo(false);
    }, LINGER_MS);
    linger.unref?.();
  };

  return {
    get listening() {
      return state === 'ready';
    },

    get listeningSince() {
      return state === 'ready' ? readyAt : undefined;
    },

    takeHeard(name: string): boolean {
      const at = heard.get(name);
      if (at === undefined) return false;
      heard.delete(name);
      return performance.now() - at <= HEARD_MS;
    },

    heardSince(name: string, since: number): boolean {
      return (heard.get(name) ?? Number.NEGATIVE_INFINITY) >= since;
    },

    query(text: string, values: unknown[]): Promise<PostgresQueryResult> | undefined {
      if (state !== 'ready' || client === undefined) return undefined;
      const connection = client;
      return queued(() => connection.query(text, values));
    },

    watch(name: string): ReleaseWatch {
      const watcher: Watcher = { woken: undefined, wake: undefined };
      let set = watchers.get(name);
      if (set === undefined) {
        set = new Set();
        watchers.set(name, set);
      }
      set.add(watcher);
      watching += 1;
      clearTimeout(linger);
      ensure();
      let stopped = false;
      return {
        arm() {
          watcher.woken = undefined;
          ensure();
        },
        sleep(ms: number, scope: Scope): Promise<WakeReason> {
          return new Promise((resolve, reject) => {
            if (scope.aborted) {
              reject(scope.reason);
              return;
            }
            if (watcher.woken !== undefined) {
              resolve(watcher.woken);
              return;
            }
            const finish = () => {
              clearTimeout(timer);
              stopAbort();
              watcher.wake = undefined;
            };
            const timer = setTimeout(() => {
              finish();
              resolve('timeout');
            }, ms);
            const stopAbort = scope.onAbort((reason) => {
              finish();
              reject(reason);
            });
            watcher.wake = () => {
              finish();
              resolve(watcher.woken ?? 'timeout');
            };
          });
        },
        stop() {
          if (stopped) return;
          stopped = true;
          set.delete(watcher);
          if (set.size === 0 && watchers.get(name) === set) watchers.delete(name);
          watching -= 1;
          if (watching === 0 && state === 'ready') startLinger();
        },
      };
    },

    close() {
      state = 'closed';
      clearTimeout(linger);
      clearTimeout(reconnect);
      letGo(true);
      wakeAll();
    },
  };
}

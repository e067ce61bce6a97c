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
/** How long the record a commit's message carried is taken as the newest, after the message (ms). */
const SEALED_MS = 1_000;

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
   * Once, if a message about `name` was heard in the last few seconds: the caller's next read of
   * what the lock guards is the one a waiter resumes with. `sealed` is what the message carried
   * after the name (a commit's sealed record, see store/postgres-messages.ts), if it came within the
   * last second, was kept (someone here waited on the name or found it held), and no later message
   * about the name replaced it.
   */
  takeHeard(name: string): { sealed: string | undefined } | undefined;
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
 *
 * A message is a lock name (a release, or a commit that carries nothing), or a name, a newline and
 * what a commit carried. What it carried is kept only for names someone here watches or `keep`
 * says (a caller found the lock held and is about to wait): every process hears every commit.
 * `onListening` is called each time a connection starts listening.
 */
export function createReleaseListener(
  pool: PostgresPool | undefined,
  channel: string,
  keep: (name: string) => boolean = () => false,
  onListening: () => void = () => {},
): ReleaseListener {
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
  /**
   * The last message about each name: when (performance.now()) and what it carried, if kept;
   * pruned as it grows.
   */
  const heard = new Map<string, { at: number; sealed: string | undefined }>();
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
  const noteHeard = (name: string, sealed: string | undefined) => {
    const at = performance.now();
    if (heard.size >= HEARD_MAX) {
      for (const [key, entry] of heard) if (at - entry.at > HEARD_MS) heard.delete(key);
      // Forgetting only costs a waiter that started late its early wake-up: the release still comes.
      if (heard.size >= HEARD_MAX) heard.clear();
    }
    heard.delete(name);
    // A message that carries nothing (a release, or a commit sealed by nobody) replaces what an
    // earlier one carried: only the last message about a name is ever taken as the newest record.
    heard.set(name, { at, sealed });
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
    // Messages may go unheard now: what an earlier one carried might not be the newest any more.
    for (const entry of heard.values()) entry.sealed = undefined;
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
      const payload = message.payload ?? '';
      const cut = payload.indexOf('\n');
      const name = cut < 0 ? payload : payload.slice(0, cut);
      const carried = cut < 0 || cut === payload.length - 1 ? undefined : payload.slice(cut + 1);
      // Remembered even with nobody watching yet: a caller whose attempt on the lock was answered
      // "held" just before the holder committed starts watching after the message went by.
      noteHeard(name, carried !== undefined && (watchers.has(name) || keep(name)) ? carried : undefined);
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
    onListening();
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

    takeHeard(name: string): { sealed: string | undefined } | undefined {
      const entry = heard.get(name);
      if (entry === undefined) return undefined;
      heard.delete(name);
      const age = performance.now() - entry.at;
      if (age > HEARD_MS) return undefined;
      return { sealed: age <= SEALED_MS ? entry.sealed : undefined };
    },

    heardSince(name: string, since: number): boolean {
      return (heard.get(name)?.at ?? Number.NEGATIVE_INFINITY) >= since;
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

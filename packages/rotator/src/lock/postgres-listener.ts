import type { PostgresClient, PostgresNotification, PostgresPool } from '../store/postgres-pool.js';

/** How long the listening connection is kept after the last waiter stops (ms). */
const LINGER_MS = 5_000;
/** The first and the longest pause before connecting again after the connection was lost (ms). */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;

/** One waiter's view of the releases of one lock name. */
export interface ReleaseWatch {
  /** Forgets what was heard so far; call right before each attempt to take the lock. */
  arm(): void;
  /**
   * Resolves after `ms`, or sooner: when a release of the name was heard since {@link arm}, or when
   * the listening connection came up or went down (a release may have gone unheard). Rejects with
   * the signal's reason when it aborts.
   */
  sleep(ms: number, signal: AbortSignal): Promise<boolean>;
  /** Stops watching. */
  stop(): void;
}

/** Releases heard on one dedicated LISTEN connection, shared by every waiter of one lock. */
export interface ReleaseListener {
  /** True while the connection is listening: then a release wakes its waiters. */
  readonly listening: boolean;
  /** Starts watching `name`, connecting the listener if needed (in the background). */
  watch(name: string): ReleaseWatch;
  /** Gives the connection back (destroyed) and stops for good. */
  close(): void;
}

interface Watcher {
  woken: boolean;
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
  let retryDelay = RETRY_MIN_MS;
  let linger: ReturnType<typeof setTimeout> | undefined;
  let reconnect: ReturnType<typeof setTimeout> | undefined;
  const watchers = new Map<string, Set<Watcher>>();
  let watching = 0;

  // Read through a function: the state changes while a connection is being made.
  const isClosed = () => state === 'closed';
  const wake = (watcher: Watcher) => {
    watcher.woken = true;
    watcher.wake?.();
  };
  const wakeAll = () => {
    for (const set of watchers.values()) for (const watcher of set) wake(watcher);
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
    current.query('UNLISTEN *').then(
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
      for (const watcher of watchers.get(message.payload ?? '') ?? []) wake(watcher);
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

    watch(name: string): ReleaseWatch {
      const watcher: Watcher = { woken: false, wake: undefined };
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
          watcher.woken = false;
          ensure();
        },
        sleep(ms: number, signal: AbortSignal): Promise<boolean> {
          return new Promise((resolve, reject) => {
            if (signal.aborted) {
              reject(signal.reason);
              return;
            }
            if (watcher.woken) {
              resolve(true);
              return;
            }
            const finish = () => {
              clearTimeout(timer);
              signal.removeEventListener('abort', onAbort);
              watcher.wake = undefined;
            };
            const onAbort = () => {
              finish();
              reject(signal.reason);
            };
            const timer = setTimeout(() => {
              finish();
              resolve(false);
            }, ms);
            watcher.wake = () => {
              finish();
              resolve(true);
            };
            signal.addEventListener('abort', onAbort, { once: true });
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

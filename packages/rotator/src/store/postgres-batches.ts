import type { PostgresQueryResult } from './postgres-pool.js';

/** What a batched re-read found: the chain's row, or `row: undefined` when there is none. */
export interface Reread {
  row: Record<string, unknown> | undefined;
}

/** Options of {@link createBatchedReads}. */
export interface BatchedReadsOptions {
  /** The most keys one statement asks for. Default 500. */
  maxBatch?: number;
  /** How many statements may run at once; what is asked for meanwhile waits for the next. Default 1. */
  concurrency?: number;
  /** The key of a row the statement returned. Default its `chain_key`. */
  keyOf?: (row: Record<string, unknown>) => unknown;
  /**
   * When reads asked for while a statement slot is free go out: `flush` is called then. Default
   * `queueMicrotask` (those asked for in the same run of microtasks go together).
   */
  defer?: (flush: () => void) => void;
}

/**
 * Reads of rows by key, batched: up to `concurrency` statements at a time, and every key asked for
 * while they all run goes into the next one (`… = ANY($1)`). A read asked for while a statement slot
 * is free goes out at once, alone or with the reads asked for in the same run of microtasks: a lone
 * read stays one round trip, and a burst of hundreds costs a few.
 *
 * `query` runs one statement for the keys. A read resolves with its row (`row: undefined` when there
 * is none) and rejects with the statement's error.
 */
export function createBatchedReads(
  query: (keys: string[]) => Promise<PostgresQueryResult>,
  options: BatchedReadsOptions = {},
) {
  const { maxBatch = 500, concurrency = 1, keyOf = (row) => row.chain_key, defer = queueMicrotask } = options;
  type Waiting = { resolve: (found: Reread) => void; reject: (error: unknown) => void };
  let pending = new Map<string, Waiting[]>();
  let running = 0;
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    while (running < concurrency && pending.size > 0) {
      const batch = new Map<string, Waiting[]>();
      for (const [key, callers] of pending) {
        if (batch.size >= maxBatch) break;
        batch.set(key, callers);
      }
      for (const key of batch.keys()) pending.delete(key);
      running++;
      let sent: Promise<PostgresQueryResult>;
      try {
        sent = query([...batch.keys()]);
      } catch (error) {
        sent = Promise.reject(error);
      }
      sent
        .then(
          ({ rows }) => {
            const byKey = new Map(rows.map((row) => [keyOf(row), row]));
            for (const [key, callers] of batch) {
              for (const { resolve } of callers) resolve({ row: byKey.get(key) });
            }
          },
          (error: unknown) => {
            for (const callers of batch.values()) for (const { reject } of callers) reject(error);
          },
        )
        .finally(() => {
          running--;
          flush();
        });
    }
  };

  return {
    /** The row of `key` as of now (`row: undefined` when there is none). */
    read(key: string): Promise<Reread> {
      return new Promise((resolve, reject) => {
        const callers = pending.get(key);
        if (callers === undefined) pending.set(key, [{ resolve, reject }]);
        else callers.push({ resolve, reject });
        // Reads asked for before the deferred flush (by default: in the same run of microtasks) go
        // out together.
        if (running < concurrency && !scheduled) {
          scheduled = true;
          defer(flush);
        }
      });
    },
    /** Fails what is pending with `error`: the store is closing. */
    clear(error: unknown): void {
      const callers = [...pending.values()].flat();
      pending = new Map();
      for (const { reject } of callers) reject(error);
    },
  };
}

/**
 * Re-reads of woken waiters, batched on one connection (see {@link createBatchedReads}, one
 * statement at a time). When a holder's commits wake hundreds of waiters in one process at once,
 * they cost a few round trips rather than hundreds queued one behind the other. The PostgreSQL lock
 * batches its waiters' looks at the lease the same way, keyed by lock name (`keyOf`).
 *
 * `query` runs one statement on the connection, or returns `undefined` when there is none; then, or
 * when the statement fails, each read resolves `undefined` and its caller reads through the pool.
 */
export function createRereads(
  query: (chainKeys: string[]) => Promise<PostgresQueryResult> | undefined,
  options: Omit<BatchedReadsOptions, 'concurrency'> = {},
) {
  const NO_CONNECTION = Symbol('no connection');
  const reads = createBatchedReads((keys) => query(keys) ?? Promise.reject(NO_CONNECTION), options);
  return {
    /** The chain's row as of now, or `undefined` if it could not be read this way. */
    read(chainKey: string): Promise<Reread | undefined> {
      return reads.read(chainKey).catch(() => undefined);
    },
    /** Forgets what is pending (each resolves `undefined`): the store is closing. */
    clear(): void {
      reads.clear(NO_CONNECTION);
    },
  };
}

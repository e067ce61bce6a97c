import type { PostgresQueryResult } from './postgres-pool.js';

/** What a batched re-read found: the chain's row, or `row: undefined` when there is none. */
export interface Reread {
  row: Record<string, unknown> | undefined;
}

/**
 * Re-reads of woken waiters, batched on one connection: one statement at a time, and every key
 * asked for while it runs goes into the next one (`chain_key = ANY($1)`). When a holder's commits
 * wake hundreds of waiters in one process at once, they cost a few round trips rather than hundreds
 * queued one behind the other. The PostgreSQL lock batches its waiters' looks at the lease the same
 * way, keyed by lock name (`keyOf`).
 *
 * `query` runs one statement on the connection, or returns `undefined` when there is none; then, or
 * when the statement fails, each read resolves `undefined` and its caller reads through the pool.
 */
export function createRereads(
  query: (chainKeys: string[]) => Promise<PostgresQueryResult> | undefined,
  maxBatch = 500,
  keyOf: (row: Record<string, unknown>) => unknown = (row) => row.chain_key,
) {
  let pending = new Map<string, ((found: Reread | undefined) => void)[]>();
  let running = false;

  const flush = () => {
    if (running || pending.size === 0) return;
    const batch = new Map([...pending].slice(0, maxBatch));
    for (const key of batch.keys()) pending.delete(key);
    const answer = (find: (key: string) => Reread | undefined) => {
      for (const [key, callers] of batch) for (const resolve of callers) resolve(find(key));
    };
    const sent = query([...batch.keys()]);
    if (sent === undefined) {
      answer(() => undefined);
      flush();
      return;
    }
    running = true;
    sent
      .then(
        ({ rows }) => {
          const byKey = new Map(rows.map((row) => [keyOf(row), row]));
          answer((key) => ({ row: byKey.get(key) }));
        },
        () => answer(() => undefined),
      )
      .finally(() => {
        running = false;
        flush();
      });
  };

  return {
    /** The chain's row as of now, or `undefined` if it could not be read this way. */
    read(chainKey: string): Promise<Reread | undefined> {
      return new Promise((resolve) => {
        const callers = pending.get(chainKey);
        if (callers === undefined) pending.set(chainKey, [resolve]);
        else callers.push(resolve);
        // Reads woken in the same turn go out together.
        if (!running && pending.size === 1) queueMicrotask(flush);
      });
    },
    /** Forgets what is pending (each resolves `undefined`): the store is closing. */
    clear(): void {
      const callers = [...pending.values()].flat();
      pending = new Map();
      for (const resolve of callers) resolve(undefined);
    },
  };
}

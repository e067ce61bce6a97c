/**
 * The name of a chain's refresh lock. The refresh engine takes it around each refresh; a store that
 * is paired with its own lock (the PostgreSQL and Redis stores) wakes that lock's waiters when it
 * commits a compare-and-set to the chain, so they need not wait for the holder's release.
 */
export function refreshLockName(chainKey: string): string {
  return `refresh:${chainKey}`;
}

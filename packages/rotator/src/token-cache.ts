import type { TokenRecord } from './store/types.js';

/** A cached record and until when it may be served without looking at the store. */
export interface CacheEntry {
  record: TokenRecord;
  /** Until when the cached record may be served without looking at the store (epoch ms). */
  freshUntil: number;
}

export interface TokenCacheOptions {
  /** Most keys kept; the oldest are dropped first (`cacheMaxEntries`). */
  maxEntries: number;
  /** How long a record is served from memory (`cacheTtlMs`). */
  ttlMs: number;
  now: () => number;
  /** How long before its expiry a record is due (window + its jitter), ms. */
  thresholdOf: (record: TokenRecord) => number;
}

/**
 * The rotator's in-memory records: by chain key, by the lookup string of each key that resolved to
 * it, and (bot chains) by installation id for the hot path, which builds no string. Bounded: a
 * fleet's sweeper touches every chain, and without a bound the cache would hold them all.
 */
export function createTokenCache(options: TokenCacheOptions) {
  const { maxEntries, ttlMs, now, thresholdOf } = options;
  const byKey = new Map<string, CacheEntry>();
  const bots = new Map<string, CacheEntry>();

  /** Caches `entry` under `key`, dropping the oldest keys beyond `maxEntries`. Only inserts pay. */
  function set(key: string, entry: CacheEntry): void {
    if (byKey.get(key) === entry) return;
    byKey.set(key, entry);
    if (byKey.size <= maxEntries) return;
    for (const [oldest, dropped] of byKey) {
      byKey.delete(oldest);
      const id = dropped.record.installationId;
      if (bots.get(id) === dropped && !byKey.has(dropped.record.chainKey)) bots.delete(id);
      if (byKey.size <= maxEntries) break;
    }
  }

  return {
    /** Bot chains by installation id (the hot path's lookup). */
    bots: bots as ReadonlyMap<string, CacheEntry>,
    get: (key: string) => byKey.get(key),
    set,

    /** Caches a record read or written now (a newer version, or a status change, replaces the cached one). */
    remember(record: TokenRecord): CacheEntry {
      let entry = byKey.get(record.chainKey);
      const freshUntil =
        record.status === 'active' ? Math.min(record.expiresAt - thresholdOf(record), now() + ttlMs) : 0;
      if (entry === undefined) {
        entry = { record, freshUntil };
        set(record.chainKey, entry);
        if (record.kind === 'bot') bots.set(record.installationId, entry);
      } else if (record.version >= entry.record.version || record.status !== entry.record.status) {
        entry.record = record;
        entry.freshUntil = freshUntil;
      }
      return entry;
    },

    /** Drops a chain (its lookups go stale at once). */
    forget(chainKey: string): void {
      const entry = byKey.get(chainKey);
      if (entry !== undefined) {
        entry.freshUntil = 0;
        if (bots.get(entry.record.installationId) === entry) bots.delete(entry.record.installationId);
      }
      byKey.delete(chainKey);
    },

    /** Drops every chain of an installation, under every lookup. */
    forgetInstallation(installationId: string): void {
      for (const [lookup, entry] of byKey) {
        if (entry.record.installationId === installationId) {
          entry.freshUntil = 0;
          byKey.delete(lookup);
          bots.delete(installationId);
        }
      }
    },
  };
}

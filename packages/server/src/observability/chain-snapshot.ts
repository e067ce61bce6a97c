/**
 * One pass over every stored chain (list pages), reduced to what the metrics and the dashboard
 * show: counts by status, the expiries of active chains, and bounded lists of chains without any
 * token. Cached for a few seconds so that scrapes and page loads stay cheap on large fleets.
 */
import type { ChainStatus, TokenRecord, TokenStore } from 'slack-rotator';
import { formatInstallationId } from '../installation-id.js';

/** A chain as the dashboard shows it: ids, status and times, never a token. */
export interface ChainView {
  /** As the broker spells it. */
  installationId: string;
  appId: string | null;
  /** `bot`, `user:U…` or `config:U…`. */
  chain: string;
  status: ChainStatus;
  expiresAt: number;
  refreshedAt: number | null;
  lastErrorCode: string | null;
}

/** An installation and its chains. */
export interface InstallationView {
  installationId: string;
  chains: ChainView[];
}

export interface ChainSnapshot {
  counts: Record<ChainStatus, number>;
  /** `expiresAt` of every active chain, ascending. */
  activeExpiries: Float64Array;
  /** Installations (at most `maxInstallations`): those with a chain to re-authorize first, then by soonest expiry. */
  installations: InstallationView[];
  totalInstallations: number;
  /** Chains with status `reauthorization_required` (at most `maxChains`). */
  reauthorization: ChainView[];
}

export interface SnapshotOptions {
  /** Whether installation ids carry their app id (several apps configured). */
  prefixed: boolean;
  maxInstallations?: number;
  maxChains?: number;
}

/** The chain's name as the broker's API spells it. */
export function chainName(kind: TokenRecord['kind'], userId: string | null): string {
  return kind === 'bot' ? 'bot' : `${kind}:${userId ?? '?'}`;
}

function view(record: TokenRecord, prefixed: boolean): ChainView {
  return {
    installationId: formatInstallationId(record.installationId, record.appId, prefixed),
    appId: record.appId,
    chain: chainName(record.kind, record.userId),
    status: record.status,
    expiresAt: record.expiresAt,
    refreshedAt: record.refreshedAt,
    lastErrorCode: record.lastErrorCode,
  };
}

/** Reads every chain, page by page, and reduces it. Throws what the store throws. */
export async function takeSnapshot(store: TokenStore, options: SnapshotOptions): Promise<ChainSnapshot> {
  const maxInstallations = options.maxInstallations ?? 100;
  const maxChains = options.maxChains ?? 200;
  const counts: Record<ChainStatus, number> = { active: 0, reauthorization_required: 0, revoked: 0 };
  const expiries: number[] = [];
  const reauthorization: ChainView[] = [];
  const byInstallation = new Map<string, InstallationView & { rank: number }>();
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: 250, ...(cursor === undefined ? {} : { cursor }) });
    for (const record of page.records) {
      counts[record.status]++;
      const chain = view(record, options.prefixed);
      if (record.status === 'active') expiries.push(record.expiresAt);
      if (record.status === 'reauthorization_required' && reauthorization.length < maxChains) {
        reauthorization.push(chain);
      }
      const key = `${record.clientId}\u0000${chain.installationId}`;
      let installation = byInstallation.get(key);
      if (installation === undefined) {
        installation = { installationId: chain.installationId, chains: [], rank: Number.POSITIVE_INFINITY };
        byInstallation.set(key, installation);
      }
      installation.chains.push(chain);
      // Installations to act on sort first: re-authorization, then the soonest active expiry.
      const rank =
        record.status === 'reauthorization_required'
          ? Number.NEGATIVE_INFINITY
          : record.status === 'active'
            ? record.expiresAt
            : Number.POSITIVE_INFINITY;
      installation.rank = Math.min(installation.rank, rank);
    }
    cursor = page.cursor;
    // A SQLite page is read synchronously and an awaited promise does not yield to I/O: without
    // this, a pass over 100,000 chains would hold every broker request for seconds.
    if (cursor !== undefined) await new Promise((resolve) => setImmediate(resolve));
  } while (cursor !== undefined);
  const installations = [...byInstallation.values()]
    .sort((a, b) => a.rank - b.rank || a.installationId.localeCompare(b.installationId))
    .slice(0, maxInstallations)
    .map(({ installationId, chains }) => ({ installationId, chains }));
  return {
    counts,
    activeExpiries: Float64Array.from(expiries).sort(),
    installations,
    totalInstallations: byInstallation.size,
    reauthorization,
  };
}

/**
 * {@link takeSnapshot}, cached `cacheMs` (real time) and shared by concurrent callers. A pass over a
 * large store takes seconds (100,000 chains: about 5 s on SQLite), so once the cache is stale and
 * younger than `maxStaleMs`, callers get it at once while one new pass runs in the background.
 */
export function createSnapshotCache(
  store: TokenStore,
  options: SnapshotOptions & { cacheMs: number; maxStaleMs: number },
): { get(): Promise<ChainSnapshot>; clear(): void } {
  let fresh: { at: number; value: ChainSnapshot } | undefined;
  let pending: Promise<ChainSnapshot> | undefined;
  const pass = () => {
    pending ??= takeSnapshot(store, options).then(
      (value) => {
        fresh = { at: performance.now(), value };
        pending = undefined;
        return value;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
  return {
    get() {
      const age = fresh === undefined ? Number.POSITIVE_INFINITY : performance.now() - fresh.at;
      if (fresh !== undefined && age <= options.cacheMs) return Promise.resolve(fresh.value);
      if (fresh !== undefined && age <= options.cacheMs + options.maxStaleMs) {
        // A failed background pass is reported by the next caller that waits for one.
        pass().catch(() => undefined);
        return Promise.resolve(fresh.value);
      }
      return pass();
    },
    clear() {
      fresh = undefined;
    },
  };
}

/** How many of the ascending `expiries` fall in [from, to). */
export function countBetween(expiries: Float64Array, from: number, to: number): number {
  return lowerBound(expiries, to) - lowerBound(expiries, from);
}

function lowerBound(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

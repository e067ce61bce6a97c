/**
 * The sweeper's planner: pure decisions over stored records — when a chain's token was issued, its
 * deadline, whether Slack's 2-active-token limit allows a refresh now, and which chains the
 * fleet-wide budget forces to be refreshed before the refresh window.
 */
import type { TokenRecord } from 'slack-rotator';

/** Every chain is refreshed before the last tenth of its token's life. */
export const DEADLINE_FRACTION = 0.1;

/** What the planner needs to know. All durations in ms of the sweeper's clock. */
export interface PlannerSettings {
  /** Time between two budget slots (60 000 / effective budget per minute). */
  slotMs: number;
  /** Planned as if each refresh took this many slots (< 1 real throughput, failures, other users). */
  throughputFactor: number;
  /** Start this much earlier than strictly needed (a few sweep intervals: a pass sees the chain late). */
  marginMs: number;
  /** The library's refresh window: a chain expiring within it is due whatever the backlog. */
  refreshWindowMs: number;
  /** Used when a record's own fields give no plausible lifetime (Slack: 12 h). */
  fallbackLifetimeMs: number;
}

/** When a record's current access token was issued and how long it lives. */
export interface TokenTiming {
  issuedAt: number;
  lifetimeMs: number;
  /** `expiresAt − DEADLINE_FRACTION × lifetime`: the refresh must have happened by then. */
  deadlineAt: number;
}

/**
 * The current token's timing, from the record alone. A refresh stores `refreshedAt` and
 * `expiresAt = refreshedAt + expires_in` in the same write, so their difference is the lifetime
 * Slack announced. A chain never refreshed is on its installed token, saved at `createdAt`.
 */
export function timingOf(record: TokenRecord, fallbackLifetimeMs: number): TokenTiming {
  const issued = record.refreshedAt ?? record.createdAt;
  let lifetimeMs = record.expiresAt - issued;
  // An imported chain may have been saved long after Slack issued its token (or carry a bogus
  // createdAt); a lifetime outside (0, 2 × Slack's) is not believable, so assume Slack's.
  if (!(lifetimeMs > 0 && lifetimeMs <= 2 * fallbackLifetimeMs)) lifetimeMs = fallbackLifetimeMs;
  return {
    issuedAt: record.expiresAt - lifetimeMs,
    lifetimeMs,
    deadlineAt: record.expiresAt - DEADLINE_FRACTION * lifetimeMs,
  };
}

/**
 * Whether refreshing now keeps Slack's limit of two active access tokens per chain: a refresh
 * issues a new token and leaves the current one valid until it expires, so it is safe only if the
 * token BEFORE the current one has expired — a third active token makes Slack revoke the oldest,
 * which a client may still hold.
 *
 * The record stores the current token's issue time, not the previous one's, so the rule keeps an
 * invariant instead:
 * - installed token (`refreshedAt === null`): there is no previous token; refresh any time.
 * - second token (first refresh done): its predecessor is the installed token, issued no later
 *   than `createdAt` (an import saves a token after Slack issued it), so wait until
 *   `createdAt + lifetime`.
 * - every later token: refresh only once the current one is at least half its lifetime old. If
 *   every refresh after the first does so, two consecutive refreshes are at least half a lifetime
 *   apart, so the token before the current one was issued at least a whole lifetime ago: expired.
 *   (The second-token condition implies the half-life one whenever it matters, and is always true
 *   afterwards, so both are checked for every refreshed chain.)
 *
 * Caveat: a re-installed chain keeps its first `createdAt`; after its first refresh only the
 * half-life rule protects its installed token. The library's own refresh (the window, at about
 * 90 % of the life) always satisfies the half-life rule.
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export function mayRefresh(record: TokenRecord, now: number, fallbackLifetimeMs: number): boolean {
  if (record.refreshedAt === null) return true;
  const { issuedAt, lifetimeMs } = timingOf(record, fallbackLifetimeMs);
  return now - issuedAt >= lifetimeMs / 2 && now >= record.createdAt + lifetimeMs;
}

/** The instant from which `mayRefresh` will be true (for reporting and tests). */
export function mayRefreshFrom(record: TokenRecord, fallbackLifetimeMs: number): number {
  if (record.refreshedAt === null) return Number.NEGATIVE_INFINITY;
  const { issuedAt, lifetimeMs } = timingOf(record, fallbackLifetimeMs);
  return Math.max(issuedAt + lifetimeMs / 2, record.createdAt + lifetimeMs);
}

/** Whether the chain is in the refresh window (the library would refresh it on the next request). */
export function inWindow(record: TokenRecord, now: number, refreshWindowMs: number): boolean {
  return record.expiresAt - now <= refreshWindowMs;
}

/**
 * Where the backlog scan ends: chains expiring at or before `expiresAt` are due. (Ties count as
 * due: the store orders them by `chainKey` in its own collation, which JavaScript can't reproduce.)
 */
export interface Horizon {
  expiresAt: number;
}

/**
 * The backlog scan. Fed every active chain that needs a budget slot, in the store's order
 * (`expiresAt`, then `chainKey`, across apps), it finds how far the budget forces the sweeper to
 * work ahead: chain k (0-based rank) needs k + 1 slots before its deadline d_k, so it must start by
 * `s_k = d_k − (k + 1) × slotMs × throughputFactor`. Once `now ≥ s_k − marginMs` for some k, chain
 * k and every chain listed before it are due — refreshing in deadline order is what meets every
 * deadline when any order can (earliest deadline first).
 */
export function createBacklogScan(settings: PlannerSettings, now: number) {
  let rank = 0;
  let horizon: Horizon | undefined;
  let earliestStartAt = Number.POSITIVE_INFINITY;
  const perChainMs = settings.slotMs * settings.throughputFactor;
  return {
    add(record: TokenRecord): void {
      const { deadlineAt } = timingOf(record, settings.fallbackLifetimeMs);
      const startAt = deadlineAt - (rank + 1) * perChainMs - settings.marginMs;
      earliestStartAt = Math.min(earliestStartAt, startAt);
      if (startAt <= now) horizon = { expiresAt: record.expiresAt };
      rank += 1;
    },
    /** How many chains were fed. */
    get count(): number {
      return rank;
    },
    /** The last due position, or `undefined` when the budget forces nothing yet. */
    get horizon(): Horizon | undefined {
      return horizon;
    },
    /** When the budget will first force work (≤ now when it already does). */
    get earliestStartAt(): number {
      return earliestStartAt;
    },
  };
}

/** Whether a listed record is at or before the horizon. */
export function withinHorizon(record: TokenRecord, horizon: Horizon | undefined): boolean {
  return horizon !== undefined && record.expiresAt <= horizon.expiresAt;
}

/** Whether the sweeper should refresh this chain now: due (window or backlog) and allowed. */
export function isDue(
  record: TokenRecord,
  now: number,
  settings: PlannerSettings,
  horizon: Horizon | undefined,
): boolean {
  const due = inWindow(record, now, settings.refreshWindowMs) || withinHorizon(record, horizon);
  return due && mayRefresh(record, now, settings.fallbackLifetimeMs);
}

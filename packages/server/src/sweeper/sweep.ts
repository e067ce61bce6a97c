/**
 * One sweep pass over the fleet: a backlog scan of every active chain (what the budget forces to be
 * done early), then the due chains in deadline order, each refreshed through its app's rotator
 * after taking a slot of the fleet-wide budget.
 */
import type { Lease, Lock, Rotator, TokenRecord } from 'slack-rotator';
import { realDelay } from '../clock.js';
import { ServerError } from '../errors.js';
import type { Backends } from '../types.js';
import { type Budget, createBudget } from './budget.js';
import { activeChains, keyOf } from './chains.js';
import { createBacklogScan, inWindow, isDue, type PlannerSettings } from './planner.js';

/** The logger the sweeper writes to (pino-compatible). It never receives a token. */
export interface SweepLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Options of {@link sweepOnce}; unset ones come from `backends.config.sweeper`. */
export interface SweepOnceOptions {
  logger: SweepLogger;
  /** Refreshes at once in this process. */
  concurrency?: number;
  /** Fleet-wide `oauth.v2.access` calls per minute. */
  budgetPerMinute?: number;
  /** The sweep interval (ms): the planner starts a few intervals early, since passes are that far apart. */
  intervalMs?: number;
  /** Slack's token lifetime, when a record's own fields don't tell (ms). Default 12 h. */
  tokenLifetimeMs?: number;
  /**
   * The planner assumes each refresh takes this many budget slots (default 1.1): refreshes that
   * fail or find nothing to do, and real throughput below the slot rate, need the slack.
   */
  throughputFactor?: number;
  /** Stops the pass: no new refresh starts, and waits for a budget slot end. */
  signal?: AbortSignal;
}

/** What one pass did. */
export interface SweepResult {
  /** Active chains looked at. */
  checked: number;
  /**
   * Chains whose token changed by this pass's refresh (or, rarely, by another instance's refresh
   * between this pass's listing and its claim).
   */
  refreshed: number;
  /** Refreshes that failed (logged with their code). */
  failed: number;
}

/** Slack's access token lifetime. */
export const TOKEN_LIFETIME_MS = 43_200_000;
/** The planner assumes refreshes run this much slower than the budget's slots. */
export const THROUGHPUT_FACTOR = 1.1;
/** The planner's margin, in sweep intervals. */
export const MARGIN_INTERVALS = 3;
/** How long a claim on a chain lasts if its holder dies (ms). */
const CLAIM_TTL_MS = 120_000;

/** Everything a pass needs, resolved once (a running sweeper keeps one across passes). */
export interface SweepContext {
  backends: Backends;
  logger: SweepLogger;
  concurrency: number;
  settings: PlannerSettings;
  budget: Budget;
  claims: Lock | undefined;
  wait: (ms: number, signal: AbortSignal | undefined) => Promise<boolean>;
}

function positive(value: number, name: string, integer: boolean): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new ServerError(
      'invalid_config',
      `sweeper: ${name} must be a positive ${integer ? 'integer' : 'number'}`,
    );
  }
  return value;
}

/**
 * Resolves options against the configuration.
 * @throws ServerError `invalid_config` naming the option.
 */
export function createSweepContext(backends: Backends, options: SweepOnceOptions): SweepContext {
  const { config } = backends;
  const concurrency = positive(options.concurrency ?? config.sweeper.concurrency, 'concurrency', true);
  const budgetPerMinute = positive(
    options.budgetPerMinute ?? config.sweeper.budgetPerMinute,
    'budgetPerMinute',
    false,
  );
  const intervalMs = positive(options.intervalMs ?? config.sweeper.intervalMs, 'intervalMs', false);
  const fallbackLifetimeMs = positive(options.tokenLifetimeMs ?? TOKEN_LIFETIME_MS, 'tokenLifetimeMs', false);
  const wait = (ms: number, signal: AbortSignal | undefined) =>
    sleep(realDelay(ms, config.testClock), signal);
  const budget = createBudget({
    state: backends.state,
    budgetPerMinute,
    batch: Math.min(4, concurrency),
    now: backends.now,
    wait,
  });
  return {
    backends,
    logger: options.logger,
    concurrency,
    settings: {
      slotMs: budget.slotMs,
      throughputFactor: positive(options.throughputFactor ?? THROUGHPUT_FACTOR, 'throughputFactor', false),
      marginMs: MARGIN_INTERVALS * intervalMs,
      refreshWindowMs: config.refreshWindowMs,
      fallbackLifetimeMs,
    },
    budget,
    claims: backends.lock ?? backends.store.lock,
    wait,
  };
}

/** Waits `ms` real milliseconds; `false` when `signal` aborted first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function codeOf(error: unknown): string {
  if (error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * One pass: refreshes the chains that are due (in the refresh window, or forced early by the
 * budget's backlog) and that Slack's 2-active-token limit allows.
 * @throws ServerError `invalid_config` for invalid options; store failures of the listing.
 */
export async function sweepOnce(backends: Backends, options: SweepOnceOptions): Promise<SweepResult> {
  return runPass(createSweepContext(backends, options), options.signal);
}

/** {@link sweepOnce} with a context kept across passes. */
export async function runPass(context: SweepContext, signal: AbortSignal | undefined): Promise<SweepResult> {
  const { backends, settings, logger } = context;
  const { store, now } = backends;
  const rotators = new Map<string, Rotator>(backends.apps.map((app) => [app.config.clientId, app.rotator]));
  const clientIds = [...rotators.keys()];
  const result: SweepResult = { checked: 0, refreshed: 0, failed: 0 };

  // Phase 1: rank every chain that will need a budget slot, to find the backlog horizon.
  const scan = createBacklogScan(settings, now());
  for await (const record of activeChains(store, clientIds, Number.MAX_SAFE_INTEGER)) {
    result.checked += 1;
    if (record.kind !== 'config') scan.add(record);
    if (signal?.aborted) return result;
  }
  const { horizon } = scan;
  logger.debug(
    { chains: scan.count, horizonAt: horizon?.expiresAt ?? null, backlogStartsAt: scan.earliestStartAt },
    'slack-rotator sweep: backlog scanned',
  );

  // Phase 2: the due chains, in deadline order, `concurrency` at a time.
  const until = Math.max(horizon?.expiresAt ?? Number.NEGATIVE_INFINITY, now() + settings.refreshWindowMs);
  const due = activeChains(store, clientIds, until + 1);
  const worker = async () => {
    for (;;) {
      if (signal?.aborted) return;
      const next = await due.next();
      if (next.done === true) return;
      const record = next.value;
      const rotator = rotators.get(record.clientId);
      if (rotator === undefined) continue;
      if (record.kind === 'config') {
        if (inWindow(record, now(), settings.refreshWindowMs)) await refreshConfig(rotator, record, result);
      } else if (isDue(record, now(), settings, horizon)) {
        await refreshChain(rotator, record, result);
      }
    }
  };

  async function refreshConfig(rotator: Rotator, record: TokenRecord, into: SweepResult): Promise<void> {
    try {
      // tooling.tokens.rotate is not oauth.v2.access: no budget slot. getConfigToken refreshes when due.
      await rotator.getConfigToken({ teamId: record.teamId ?? '', userId: record.userId ?? '' });
      const after = await store.get(record.chainKey);
      if (after !== undefined && after.version !== record.version) into.refreshed += 1;
    } catch (error) {
      into.failed += 1;
      logger.warn({ chainKey: record.chainKey, code: codeOf(error) }, 'slack-rotator sweep: refresh failed');
    }
  }

  async function refreshChain(rotator: Rotator, listed: TokenRecord, into: SweepResult): Promise<void> {
    let lease: Lease | null | undefined;
    try {
      lease = await claim(listed.chainKey);
      if (lease === null) return;
      if (!(await context.budget.take(signal))) return;
      // No re-read here: the rotator reads the record itself, and again under its refresh lock,
      // and ifToken makes it refresh only while the stored token is still the listed one. The listed record's isDue stays true for that token (every condition only becomes
      // truer as time passes), so the 2-active-token rule holds; a chain a peer or a client
      // refreshed since the listing costs an unused slot, never a call. (Measured: with two
      // instances a claim almost never lands on a chain already done — the other instance holds
      // its claim from before its slot until after its write.)
      const info = await rotator.refresh(keyOf(listed), { ifToken: listed.accessToken });
      if (info.token !== listed.accessToken) into.refreshed += 1;
    } catch (error) {
      // Revoked since the listing (revocation never comes from a refresh): nothing to do. (A chain
      // marked for re-authorization meanwhile counts as failed, as one marked by this refresh does.)
      if (codeOf(error) === 'chain_revoked') return;
      into.failed += 1;
      logger.warn({ chainKey: listed.chainKey, code: codeOf(error) }, 'slack-rotator sweep: refresh failed');
    } finally {
      if (lease !== undefined && lease !== null) {
        await context.claims?.release(lease).catch((error: unknown) => {
          logger.warn(
            { chainKey: listed.chainKey, code: codeOf(error) },
            'slack-rotator sweep: claim release failed',
          );
        });
      }
    }
  }

  /** A lease on `sweep:<chainKey>`, `null` when another instance holds it, `undefined` without a lock. */
  async function claim(chainKey: string): Promise<Lease | null | undefined> {
    if (context.claims === undefined) return undefined;
    try {
      return await context.claims.acquire(`sweep:${chainKey}`, { ttlMs: CLAIM_TTL_MS, waitMs: 0 });
    } catch (error) {
      if (codeOf(error) === 'lock_timeout') return null;
      throw error;
    }
  }

  try {
    await Promise.all(Array.from({ length: context.concurrency }, worker));
  } finally {
    await due.return(undefined);
  }
  return result;
}

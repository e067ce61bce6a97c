import { createHash } from 'node:crypto';
import {
  type ChainKeyInput,
  type ChainSelector,
  candidateChainKeys,
  chainKeyOf,
  chainSuffixOf,
  configChainKeyOf,
  installationIdOf,
} from './chain.js';
import { configRecordOf } from './config-record.js';
import { withEncryption } from './crypto/encrypted-store.js';
import { invalidArgument, isRetryable, RotatorError } from './errors.js';
import { createEmitter, describeError } from './events.js';
import { createInstallFlow } from './install-flow.js';
import { createLocalLock } from './lock/local.js';
import type { Lock } from './lock/types.js';
import { markChainsRevoked } from './mark-revoked.js';
import { checkOptions, type ResolvedOptions, type RotatorOptions } from './options.js';
import { createRefresher, inactiveError, notFoundError } from './refresher.js';
import type { ConfigTokenInput, GetTokenOptions, RefreshOptions, Rotator, TokenInfo } from './rotator.js';
import { createSaveInstallation } from './save-installation.js';
import { createSingleFlight } from './single-flight.js';
import { createTransport } from './slack/transport.js';
import type { TokenRecord } from './store/types.js';
import { createSweeping } from './sweeper.js';
import { createTokenCache } from './token-cache.js';
import { createWithToken } from './with-token.js';

/** A wait inside an awaited call: it keeps the process alive, so the call can finish. */
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/** A stable per-chain fraction in [0, 1): spreads refreshes of chains installed together. */
function jitterFraction(chainKey: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < chainKey.length; i++) {
    hash ^= chainKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 2 ** 32;
}

/**
 * Creates a rotator for one Slack app.
 *
 * @example
 * ```ts
 * const rotator = createRotator({ clientId, clientSecret, store: createSqliteStore({ database }) });
 * await rotator.saveInstallation(oauthV2AccessAnswer);
 * const token = await rotator.getToken({ teamId: 'T123' });
 * ```
 * @throws TypeError `ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE` for invalid options.
 */
export function createRotator(options: RotatorOptions): Rotator {
  const settings: ResolvedOptions = checkOptions(options);
  const { clientId, now, logger, encryption } = settings;
  const store = encryption === undefined ? settings.store : withEncryption(settings.store, encryption);
  const lock: Lock = settings.lock ?? store.lock ?? createLocalLock({ now });
  const events = createEmitter(logger);
  const transport = createTransport(
    {
      slackApiUrl: settings.slackApiUrl,
      fetch: settings.fetch,
      timeoutMs: settings.requestTimeoutMs,
      lateAnswerMs: settings.lateAnswerMs,
    },
    now,
  );
  const credentials = { clientId, clientSecret: settings.clientSecret, method: settings.clientAuth };
  const flights = createSingleFlight<TokenRecord>();
  const background = new Set<Promise<unknown>>();
  let closed = false;

  const thresholdOf = (record: TokenRecord) =>
    settings.refreshWindowMs + settings.refreshJitterMs * jitterFraction(record.chainKey);
  const isDue = (record: TokenRecord, minValidityMs = 0) =>
    record.expiresAt - now() < Math.max(thresholdOf(record), minValidityMs);

  const cache = createTokenCache({
    maxEntries: settings.cacheMaxEntries,
    ttlMs: settings.cacheTtlMs,
    now,
    thresholdOf,
  });
  const { remember, forget } = cache;

  const refresher = createRefresher({
    store,
    lock,
    transport,
    credentials,
    now,
    logger,
    events,
    lockTtlMs: settings.lockTtlMs,
    lockWaitMs: settings.lockWaitMs,
    maxConcurrentRefreshes: settings.maxConcurrentRefreshes,
    ambiguousRetryDelaysMs: settings.ambiguousRetryDelaysMs,
    rateLimitRetries: settings.rateLimitRetries,
    rateLimitMaxWaitMs: settings.rateLimitMaxWaitMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    fingerprint:
      encryption?.fingerprint ??
      ((token) => `sha256:${createHash('sha256').update(token).digest('base64url')}`),
    onRecord: remember,
    sleep,
  });

  function checkOpen(): void {
    if (closed) throw new RotatorError('closed', '[slack-rotator] the rotator is closed');
  }

  function checkMinValidity(options: GetTokenOptions | undefined): number {
    const value = options?.minValidityMs;
    if (value === undefined) return 0;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw invalidArgument(
        'minValidityMs must be a non-negative number of milliseconds',
        'ERR_INVALID_ARG_TYPE',
      );
    }
    if (value > settings.tokenLifetimeMs - settings.refreshWindowMs) {
      throw invalidArgument(
        `minValidityMs (${value}) must not exceed the token lifetime minus refreshWindowMs (${settings.tokenLifetimeMs - settings.refreshWindowMs}): it would refresh on every call`,
      );
    }
    return value;
  }

  /** The lookup string of a key for the cache; throws TypeError for an invalid key. */
  function lookupOf(key: ChainKeyInput): string {
    const suffix = chainSuffixOf(key?.chain);
    const id = installationIdOf(key);
    return key.isEnterpriseInstall === undefined && key.teamId && key.enterpriseId
      ? `${id}|${key.enterpriseId}|${suffix}`
      : chainKeyOf(clientId, id, suffix);
  }

  /** Reads the stored record of a key (team first, then enterprise, when unknown). */
  async function load(key: ChainKeyInput): Promise<TokenRecord> {
    const keys = candidateChainKeys(clientId, key);
    for (const chainKey of keys) {
      const record = await refresher.read(chainKey);
      if (record !== undefined) return record;
    }
    throw notFoundError(keys[0] as string);
  }

  function refreshInBackground(record: TokenRecord): void {
    const task = flights
      .run(record.chainKey, () =>
        refresher.refresh(record.chainKey, { known: record, isDue: (r) => isDue(r) }),
      )
      .catch((error: unknown) => {
        logger.warn(
          { chainKey: record.chainKey, err: describeError(error) },
          'slack-rotator proactive refresh failed; serving the current token',
        );
      });
    background.add(task);
    void task.finally(() => background.delete(task));
  }

  /** The record to serve for `key`: from cache when fresh, else read and refreshed when due. */
  async function resolve(key: ChainKeyInput, minValidityMs: number): Promise<TokenRecord> {
    checkOpen();
    return serve(lookupOf(key), () => load(key), minValidityMs);
  }

  /** The record to serve for a lookup string, loading it with `load` when the cache cannot. */
  async function serve(lookup: string, loadRecord: () => Promise<TokenRecord>, minValidityMs: number) {
    const cached = cache.get(lookup);
    const at = now();
    if (cached !== undefined && at < cached.freshUntil && cached.record.expiresAt - at >= minValidityMs) {
      return cached.record;
    }
    const record = await loadRecord();
    const entry = remember(record);
    cache.set(lookup, entry);
    if (record.status !== 'active') throw inactiveError(record);
    if (!isDue(record, minValidityMs)) return record;
    const remaining = record.expiresAt - now();
    if (remaining > minValidityMs && remaining > thresholdOf(record) / 2) {
      // Still good for what the caller asked: refresh behind its back, serve this one now.
      refreshInBackground(record);
      return record;
    }
    try {
      return await flights.run(record.chainKey, () =>
        refresher.refresh(record.chainKey, { known: record, isDue: (r) => isDue(r, minValidityMs) }),
      );
    } catch (error) {
      // A transient failure never takes away a token that still works.
      if (isRetryable(error) && record.expiresAt > now()) {
        logger.warn(
          { chainKey: record.chainKey, err: describeError(error) },
          'slack-rotator refresh failed; serving the still-valid token',
        );
        return record;
      }
      throw error;
    }
  }

  function infoOf(record: TokenRecord): TokenInfo {
    return {
      token: record.accessToken,
      expiresAt: record.expiresAt,
      scopes: [...record.scopes],
      botId: record.botId,
      botUserId: record.botUserId,
      appId: record.appId,
      userId: record.userId,
      teamId: record.teamId,
      enterpriseId: record.enterpriseId,
      isEnterpriseInstall: record.isEnterpriseInstall,
      chainKey: record.chainKey,
    };
  }

  async function getToken(key: ChainKeyInput, options?: GetTokenOptions): Promise<string> {
    // The hot path: a plain bot key with no options, cached and fresh.
    if (options === undefined && key !== null && typeof key === 'object' && key.chain === undefined) {
      const id =
        key.isEnterpriseInstall === true
          ? key.enterpriseId
          : key.isEnterpriseInstall === false || !key.enterpriseId
            ? key.teamId
            : undefined;
      if (typeof id === 'string') {
        const entry = cache.bots.get(id);
        if (entry !== undefined && now() < entry.freshUntil && !closed) return entry.record.accessToken;
      }
    }
    return (await resolve(key, checkMinValidity(options))).accessToken;
  }

  const saveInstallation = createSaveInstallation({
    clientId,
    store,
    now,
    logger,
    read: (chainKey) => refresher.read(chainKey),
    forget,
    remember,
    checkOpen,
  });

  const withToken = createWithToken({
    resolve,
    checkMinValidity,
    read: (chainKey) => refresher.read(chainKey),
    refreshIfStill: (record) =>
      flights.run(record.chainKey, () =>
        refresher.refresh(record.chainKey, { ifAccessToken: record.accessToken, isDue: (r) => isDue(r) }),
      ),
    remember,
    logger,
  });

  async function saveConfigToken(config: ConfigTokenInput): Promise<{ chainKey: string; expiresAt: number }> {
    checkOpen();
    const record = await store.put(configRecordOf(config, clientId, now()));
    forget(record.chainKey);
    remember(record);
    return { chainKey: record.chainKey, expiresAt: record.expiresAt };
  }

  async function getConfigToken(
    key: { teamId: string; userId: string },
    options?: GetTokenOptions,
  ): Promise<string> {
    checkOpen();
    if (typeof key !== 'object' || key === null) {
      throw invalidArgument('getConfigToken needs { teamId, userId }', 'ERR_INVALID_ARG_TYPE');
    }
    const chainKey = configChainKeyOf(key.teamId, key.userId);
    const minValidityMs = checkMinValidity(options);
    const record = await serve(
      chainKey,
      async () => (await refresher.read(chainKey)) ?? Promise.reject(notFoundError(chainKey)),
      minValidityMs,
    );
    return record.accessToken;
  }

  async function refresh(key: ChainKeyInput, options: RefreshOptions = {}): Promise<TokenInfo> {
    checkOpen();
    const { ifToken } = options;
    if (ifToken !== undefined && (typeof ifToken !== 'string' || ifToken === '')) {
      throw invalidArgument('ifToken must be the access token that failed', 'ERR_INVALID_ARG_TYPE');
    }
    const record = await load(key);
    remember(record);
    if (record.status !== 'active') throw inactiveError(record);
    // Already replaced: serve the current token as getTokenInfo would (refreshed first if due).
    if (ifToken !== undefined && record.accessToken !== ifToken) return infoOf(await resolve(key, 0));
    const request =
      ifToken === undefined
        ? { known: record, force: options.force === true, isDue: (r: TokenRecord) => isDue(r) }
        : { known: record, ifAccessToken: ifToken, isDue: (r: TokenRecord) => isDue(r) };
    const next = await flights.run(record.chainKey, () => refresher.refresh(record.chainKey, request));
    return infoOf(next);
  }

  const { sweep, startSweeper, stopSweepers } = createSweeping({
    store,
    clientId,
    now,
    logger,
    defaultWithinMs: settings.refreshWindowMs + settings.refreshJitterMs,
    isDue: (record) => isDue(record),
    refresh: (record) =>
      flights.run(record.chainKey, () => refresher.refresh(record.chainKey, { isDue: (r) => isDue(r) })),
    isClosed: () => closed,
  });

  async function markRevoked(
    installation: Omit<ChainKeyInput, 'chain'>,
    options: { chains?: ChainSelector[]; reason?: string } = {},
  ): Promise<number> {
    checkOpen();
    return markChainsRevoked(
      { store, clientId, now, logger, read: (chainKey) => refresher.read(chainKey), forget },
      installationIdOf(installation),
      options,
    );
  }

  async function deleteInstallation(installation: Omit<ChainKeyInput, 'chain'>): Promise<number> {
    checkOpen();
    const installationId = installationIdOf(installation);
    const removed = await store.delete({ clientId, installationId });
    cache.forgetInstallation(installationId);
    logger.info({ installationId, removed }, 'slack-rotator installation deleted');
    return removed;
  }

  const install = createInstallFlow({
    clientId,
    clientSecret: settings.clientSecret,
    stateSecret: settings.stateSecret,
    transport,
    credentials,
    now,
    logger,
    saveInstallation,
  });

  return {
    clientId,
    saveInstallation,
    getToken,
    async getTokenInfo(key, options) {
      return infoOf(await resolve(key, checkMinValidity(options)));
    },
    withToken,
    refresh,
    saveConfigToken,
    getConfigToken,
    deleteInstallation,
    markRevoked,
    sweep(options) {
      checkOpen();
      return sweep(options);
    },
    startSweeper(options) {
      checkOpen();
      return startSweeper(options);
    },
    installUrl: (options) => install.installUrl(options),
    completeInstall: (params) => {
      checkOpen();
      return install.completeInstall(params);
    },
    exchangeLegacyToken: (token, options) => {
      checkOpen();
      return install.exchangeLegacyToken(token, options);
    },
    on: (name, listener) => events.on(name, listener),
    off: (name, listener) => events.off(name, listener),
    async close() {
      if (closed) return;
      closed = true;
      await stopSweepers();
      await flights.idle();
      await Promise.allSettled([...background]);
      transport.close();
    },
  };
}

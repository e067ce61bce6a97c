import type { ChainKeyInput, ChainSelector } from '../chain.js';
import { invalidArgument, LockTimeoutError } from '../errors.js';
import type { Rotator } from '../rotator.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import { checkRotator, keyOf } from './tokens.js';
import type { BoltEventRegistry, RevocationEventArgs } from './types.js';

/**
 * Marks chains of an installation `revoked` and keeps their records: they are no longer served or
 * refreshed (`getToken` throws `chain_revoked`) until a new installation is saved. Without `chains`,
 * every chain of the installation. Resolves to how many chains it marked.
 *
 * The rotator's own `markRevoked` is used; the `store` option stands in only for a Rotator-like
 * object without it.
 */
export type MarkRevoked = (
  installation: Omit<ChainKeyInput, 'chain'>,
  options?: { chains?: ChainSelector[]; reason?: string },
) => Promise<number>;

/** Options of {@link createRevocationHandlers} and {@link createInstallationStore}. */
export interface RevocationOptions {
  /**
   * The token store the rotator was created with. Needed only for a Rotator-like object without
   * `markRevoked`: the chains are then marked in the store directly, each by
   * compare-and-set on its version. A token the rotator cached before the mark may still be served
   * for up to its `cacheTtlMs` (Slack refuses it anyway).
   */
  store?: TokenStore;
}

/** Listeners for Slack's revocation events; pass each to `app.event(…)`. */
export interface RevocationHandlers {
  /**
   * For `tokens_revoked`: marks the bot chain `revoked` when `tokens.bot` is non-empty, and the user
   * chain of every user in `tokens.oauth`.
   * @throws StorageError when the store fails (Bolt's error handler gets it; the event was acked).
   */
  tokensRevoked(args: RevocationEventArgs): Promise<void>;
  /** For `app_uninstalled`: marks every chain of the installation `revoked`. */
  appUninstalled(args: RevocationEventArgs): Promise<void>;
}

const MARK_ATTEMPTS = 10;

async function markOne(store: TokenStore, first: TokenRecord, reason: string): Promise<boolean> {
  let record: TokenRecord | undefined = first;
  for (let attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
    if (record === undefined || record.status === 'revoked') return false;
    const update = { status: 'revoked' as const, lastErrorCode: reason, updatedAt: Date.now() };
    if ((await store.compareAndSet(record.chainKey, record.version, update)) !== undefined) return true;
    // A refresh (or another mark) wrote in between: read the new version and try again.
    record = await store.get(record.chainKey);
  }
  throw new LockTimeoutError(
    'lock_timeout',
    `[slack-rotator] could not mark chain ${first.chainKey} revoked: it kept changing; try again`,
    { chainKey: first.chainKey },
  );
}

function selected(record: TokenRecord, chains: ChainSelector[] | undefined): boolean {
  if (chains === undefined) return record.kind !== 'config';
  return chains.some((chain) =>
    chain === 'bot' ? record.kind === 'bot' : record.kind === 'user' && record.userId === chain.userId,
  );
}

/** The installation ids a key may name: team first, then enterprise, when `isEnterpriseInstall` is unknown. */
function installationIdsOf(key: ChainKeyInput): string[] {
  const ids =
    key.isEnterpriseInstall === true
      ? [key.enterpriseId]
      : key.isEnterpriseInstall === false
        ? [key.teamId]
        : [key.teamId, key.enterpriseId];
  const present = ids.filter((id): id is string => typeof id === 'string' && id !== '');
  if (present.length === 0) throw invalidArgument('an installation needs teamId or enterpriseId');
  return present;
}

/** {@link MarkRevoked} over a token store, by compare-and-set on each chain's version. */
function storeMarker(store: TokenStore, clientId: string): MarkRevoked {
  return async (installation, options = {}) => {
    for (const installationId of installationIdsOf(installation)) {
      const records: TokenRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({
          clientId,
          installationId,
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        records.push(...page.records);
        cursor = page.cursor;
      } while (cursor !== undefined);
      if (records.length === 0) continue;
      let marked = 0;
      for (const record of records) {
        if (selected(record, options.chains) && (await markOne(store, record, options.reason ?? 'revoked'))) {
          marked += 1;
        }
      }
      return marked;
    }
    return 0;
  };
}

/**
 * The {@link MarkRevoked} to use: the rotator's own when it has one, else one over `options.store`,
 * else `undefined`.
 */
export function revocationOf(
  rotator: Rotator,
  options: RevocationOptions | undefined,
): MarkRevoked | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  const own = (rotator as Rotator & { markRevoked?: MarkRevoked }).markRevoked;
  if (typeof own === 'function') return own.bind(rotator);
  const store = options?.store;
  if (store === undefined) return undefined;
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.list !== 'function' ||
    typeof store.compareAndSet !== 'function'
  ) {
    throw invalidArgument('options.store must be the TokenStore the rotator uses', 'ERR_INVALID_ARG_TYPE');
  }
  return storeMarker(store, rotator.clientId);
}

/**
 * Listeners for the `tokens_revoked` and `app_uninstalled` events that mark the affected chains
 * `revoked` (the records are kept; a new install makes them active again). Bolt delivers these two
 * events without calling `authorize`, so they work for chains that are already dead.
 *
 * @example
 * ```ts
 * const revocation = createRevocationHandlers(rotator);
 * app.event('tokens_revoked', revocation.tokensRevoked);
 * app.event('app_uninstalled', revocation.appUninstalled);
 * ```
 * @see https://docs.slack.dev/reference/events/tokens_revoked
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for an invalid rotator, or when
 * the rotator has no `markRevoked` and no `store` option is given.
 */
export function createRevocationHandlers(rotator: Rotator, options?: RevocationOptions): RevocationHandlers {
  const checked = checkRotator(rotator, 'createRevocationHandlers');
  const mark = revocationOf(checked, options);
  if (mark === undefined) {
    throw invalidArgument(
      'createRevocationHandlers needs { store } (the TokenStore the rotator uses) to mark chains revoked',
    );
  }
  return {
    async tokensRevoked({ event, context }) {
      const chains: ChainSelector[] = [];
      if ((event.tokens?.bot?.length ?? 0) > 0) chains.push('bot');
      for (const userId of event.tokens?.oauth ?? []) chains.push({ userId });
      if (chains.length > 0) await mark(keyOf(context), { chains, reason: 'tokens_revoked' });
    },
    async appUninstalled({ context }) {
      await mark(keyOf(context), { reason: 'app_uninstalled' });
    },
  };
}

/**
 * Registers {@link createRevocationHandlers}' listeners on a Bolt `App` and returns them.
 *
 * @example
 * ```ts
 * registerRevocationListeners(app, rotator);
 * ```
 * @throws TypeError as {@link createRevocationHandlers}, or when `app` has no `event` method.
 */
export function registerRevocationListeners(
  app: BoltEventRegistry,
  rotator: Rotator,
  options?: RevocationOptions,
): RevocationHandlers {
  if (typeof app !== 'object' || app === null || typeof app.event !== 'function') {
    throw invalidArgument('registerRevocationListeners needs a Bolt App', 'ERR_INVALID_ARG_TYPE');
  }
  const handlers = createRevocationHandlers(rotator, options);
  app.event('tokens_revoked', handlers.tokensRevoked);
  app.event('app_uninstalled', handlers.appUninstalled);
  return handlers;
}

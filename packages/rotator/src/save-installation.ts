import { chainKeyOf } from './chain.js';
import { invalidArgument, isRotatorError } from './errors.js';
import { describeError } from './events.js';
import type { Logger } from './logger.js';
import type { SavedInstallation, SaveInstallationOptions } from './rotator.js';
import { type ChainDraft, parseInstallResponse } from './slack/install.js';
import { INSTALLED_CHAIN_STATE } from './store/record.js';
import type { TokenRecord, TokenStore } from './store/types.js';

/** What `saveInstallation` needs of the rotator. */
export interface SaveInstallationDeps {
  clientId: string;
  store: TokenStore;
  now: () => number;
  logger: Logger;
  /** The stored record (to keep a re-installed chain's `createdAt`). */
  read(chainKey: string): Promise<TokenRecord | undefined>;
  forget(chainKey: string): void;
  remember(record: TokenRecord): unknown;
  checkOpen(): void;
}

/**
 * `saveInstallation(response)`: each chain an `oauth.v2.access` (or exchange) answer holds, written
 * as a new active record (a re-install replaces the chain, keeping its `createdAt`), and cached.
 */
export function createSaveInstallation(deps: SaveInstallationDeps) {
  const { clientId, store, now, logger, read, forget, remember, checkOpen } = deps;

  async function save(draft: ChainDraft): Promise<TokenRecord> {
    const suffix = draft.kind === 'bot' ? 'bot' : `user:${draft.userId}`;
    const chainKey = chainKeyOf(clientId, draft.installationId, suffix);
    const at = now();
    // The old record is read only to keep its createdAt. A re-install is also how a chain whose
    // key was lost comes back, so an unreadable old record must not stop it.
    const existing = await read(chainKey).catch((error: unknown) => {
      if (!isRotatorError(error) || (error.code !== 'decryption_failed' && error.code !== 'key_not_found'))
        throw error;
      logger.warn(
        { chainKey, err: describeError(error) },
        'slack-rotator replaces a chain it cannot decrypt',
      );
      return undefined;
    });
    const record = await store.put({
      chainKey,
      clientId,
      ...draft,
      ...INSTALLED_CHAIN_STATE,
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
    });
    forget(chainKey);
    remember(record);
    return record;
  }

  return async function saveInstallation(
    response: unknown,
    options: SaveInstallationOptions = {},
  ): Promise<SavedInstallation> {
    checkOpen();
    if (typeof options !== 'object' || options === null) {
      throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
    }
    const drafts = parseInstallResponse(response, {
      issuedAt: options.issuedAt ?? now(),
      botId: options.botId,
      userId: options.userId,
    });
    const saved: TokenRecord[] = [];
    for (const draft of drafts) saved.push(await save(draft));
    const first = saved[0] as TokenRecord;
    logger.info(
      { installationId: first.installationId, chains: saved.length },
      'slack-rotator installation saved',
    );
    return {
      installationId: first.installationId,
      teamId: first.teamId,
      enterpriseId: first.enterpriseId,
      isEnterpriseInstall: first.isEnterpriseInstall,
      appId: first.appId,
      chains: saved.map((r) => ({
        chainKey: r.chainKey,
        kind: r.kind,
        userId: r.userId,
        expiresAt: r.expiresAt,
      })),
    };
  };
}

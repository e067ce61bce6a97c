import { invalidArgument } from '../errors.js';
import type { Rotator, TokenInfo } from '../rotator.js';
import { type RevocationOptions, revocationOf } from './revocation.js';
import { checkMinValidityOption, checkRotator, fetchTokens, keyOf } from './tokens.js';
import type { FetchedInstallation, OAuthInstallation, OAuthInstallationStore } from './types.js';

/** Options of {@link createInstallationStore}. */
export interface InstallationStoreOptions extends RevocationOptions {
  /** Fetched tokens stay valid at least this long (ms), as `getToken`'s `minValidityMs`. */
  minValidityMs?: number;
}

type Json = Record<string, unknown>;

const seconds = (ms: number) => Math.floor(ms / 1000);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `expires_in` (seconds) from `@slack/oauth`'s `expiresAt` (epoch seconds); unknown or past: due now. */
function expiresIn(expiresAt: unknown, nowMs: number): number {
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return 0.001;
  return Math.max((expiresAt * 1000 - nowMs) / 1000, 0.001);
}

function refreshTokenOf(chain: { token?: unknown; refreshToken?: unknown }, path: string): string {
  if (typeof chain.refreshToken === 'string' && chain.refreshToken !== '') return chain.refreshToken;
  throw invalidArgument(
    `${path}.refreshToken is missing: slack-rotator keeps only installations straight from the OAuth flow with token rotation on (an installation fetched from this store carries no refresh token; a legacy token becomes a chain with rotator.exchangeLegacyToken)`,
  );
}

/**
 * Turns `@slack/oauth`'s installation back into the `oauth.v2.access` answer it was built from, for
 * `rotator.saveInstallation`. Team and enterprise names, the incoming webhook, `enterpriseUrl` and
 * `metadata` are not kept.
 */
export function toInstallAnswer(
  installation: OAuthInstallation,
  nowMs: number,
): { answer: Json; botId?: string } {
  if (!isObject(installation)) {
    throw invalidArgument('storeInstallation needs an installation object', 'ERR_INVALID_ARG_TYPE');
  }
  if (installation.authVersion === 'v1') {
    throw invalidArgument('a v1 (classic app) installation has no rotating tokens; only v2 is supported');
  }
  const { bot, user } = installation;
  if (!isObject(user) || typeof user.id !== 'string') {
    throw invalidArgument('installation.user.id must be a string', 'ERR_INVALID_ARG_TYPE');
  }
  const answer: Json = {
    ok: true,
    app_id: installation.appId ?? null,
    team: installation.team ? { id: installation.team.id, name: installation.team.name ?? '' } : null,
    enterprise: installation.enterprise
      ? { id: installation.enterprise.id, name: installation.enterprise.name ?? '' }
      : null,
    is_enterprise_install: installation.isEnterpriseInstall === true,
  };
  const authedUser: Json = { id: user.id };
  if (user.token) {
    Object.assign(authedUser, {
      access_token: user.token,
      refresh_token: refreshTokenOf(user, 'installation.user'),
      expires_in: expiresIn(user.expiresAt, nowMs),
      scope: (user.scopes ?? []).join(','),
      token_type: 'user',
    });
  }
  answer.authed_user = authedUser;
  if (bot) {
    if (!isObject(bot) || typeof bot.token !== 'string') {
      throw invalidArgument('installation.bot.token must be a string', 'ERR_INVALID_ARG_TYPE');
    }
    Object.assign(answer, {
      token_type: 'bot',
      access_token: bot.token,
      refresh_token: refreshTokenOf(bot, 'installation.bot'),
      expires_in: expiresIn(bot.expiresAt, nowMs),
      scope: (bot.scopes ?? []).join(','),
      bot_user_id: bot.userId ?? null,
    });
  }
  return typeof bot?.id === 'string' && bot.id !== '' ? { answer, botId: bot.id } : { answer };
}

function fetched(
  query: { isEnterpriseInstall?: boolean | undefined; userId?: string | undefined },
  bot: TokenInfo | undefined,
  user: TokenInfo | undefined,
): FetchedInstallation {
  const found = (bot ?? user) as TokenInfo;
  const installation: FetchedInstallation = {
    team: found.isEnterpriseInstall || found.teamId === null ? undefined : { id: found.teamId },
    enterprise: found.enterpriseId === null ? undefined : { id: found.enterpriseId },
    user:
      user === undefined
        ? { id: query.userId ?? bot?.userId ?? '', token: undefined, scopes: undefined }
        : {
            id: user.userId ?? '',
            token: user.token,
            scopes: user.scopes,
            expiresAt: seconds(user.expiresAt),
          },
    isEnterpriseInstall: found.isEnterpriseInstall,
    authVersion: 'v2',
  };
  if (found.appId !== null) installation.appId = found.appId;
  if (bot !== undefined) {
    installation.tokenType = 'bot';
    installation.bot = {
      token: bot.token,
      scopes: bot.scopes,
      id: bot.botId ?? '',
      userId: bot.botUserId ?? '',
      expiresAt: seconds(bot.expiresAt),
    };
  }
  return installation;
}

/**
 * An `@slack/oauth` `InstallationStore` backed by the rotator, for Bolt's built-in OAuth
 * (`new App({ clientId, clientSecret, stateSecret, scopes, installationStore })`) or a bare
 * `InstallProvider`: installs go into the rotator, and every event gets fresh tokens from it.
 *
 * - `storeInstallation` saves the chains of an installation straight from the OAuth flow (bot and,
 *   with user scopes, the installing user's chain; expiries converted from `@slack/oauth`'s epoch
 *   seconds). A v1 installation, or one without refresh tokens, is a `TypeError`: only rotating
 *   tokens are kept. Team and enterprise names, the incoming webhook, `enterpriseUrl` and `metadata`
 *   are not kept.
 * - `fetchInstallation` returns fresh tokens (`authVersion: 'v2'`, `expiresAt` in epoch seconds) for
 *   the bot and for `query.userId` — or, without `userId`, the installing user — when that user has an
 *   active chain; otherwise `user.token` is `undefined`.
 * - `deleteInstallation` removes every chain of the installation; with `query.userId`, it marks that
 *   user's chain `revoked` instead (which needs the rotator's `markRevoked` or the `store` option).
 *
 * **Why `InstallProvider` never refreshes on its own.** `InstallProvider.authorize` refreshes a token
 * when the installation carries its `refreshToken` and expires within 2 h — with no lock, once per
 * concurrent event, writing the whole installation back — which is how chains get locked out
 * (slackapi/node-slack-sdk#2504). `fetchInstallation` therefore never returns a refresh token: the
 * refresh token stays inside the rotator, the only party that spends it. `InstallProvider` then sees
 * no rotation to do, and never calls `oauth.v2.access` nor `storeInstallation`. The reported
 * `expiresAt` is the true expiry (rounded down to the second), not a lie that would keep it from
 * refreshing: a far-future expiry would mislead any code that reads it, and would still hand the
 * single-use refresh token out of the rotator.
 *
 * @example
 * ```ts
 * const app = new App({
 *   signingSecret, clientId, clientSecret, stateSecret, scopes: ['chat:write'],
 *   installationStore: createInstallationStore(rotator),
 * });
 * ```
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for an invalid rotator or options.
 * `fetchInstallation` rejects as `createAuthorize`'s function does (`InstallProvider` wraps it in its
 * `AuthorizationError`, the rotator's error being its `original`).
 */
export function createInstallationStore(
  rotator: Rotator,
  options?: InstallationStoreOptions,
): OAuthInstallationStore {
  const checked = checkRotator(rotator, 'createInstallationStore');
  const tokenOptions = checkMinValidityOption(options, 'createInstallationStore');
  const revoke = revocationOf(checked, options);
  return {
    async storeInstallation(installation) {
      const nowMs = Date.now();
      const { answer, botId } = toInstallAnswer(installation, nowMs);
      await checked.saveInstallation(answer, { issuedAt: nowMs, ...(botId === undefined ? {} : { botId }) });
    },
    async fetchInstallation(query) {
      if (typeof query !== 'object' || query === null)
        throw invalidArgument('fetchInstallation needs a query', 'ERR_INVALID_ARG_TYPE');
      const { bot, user } = await fetchTokens(checked, query, query.userId || 'installer', tokenOptions);
      return fetched(query, bot, user);
    },
    async deleteInstallation(query) {
      if (typeof query !== 'object' || query === null)
        throw invalidArgument('deleteInstallation needs a query', 'ERR_INVALID_ARG_TYPE');
      const key = keyOf(query);
      if (!query.userId) {
        await checked.deleteInstallation(key);
        return;
      }
      if (revoke === undefined) {
        throw invalidArgument(
          'deleteInstallation with a userId needs { store } in createInstallationStore (the TokenStore the rotator uses)',
        );
      }
      await revoke(key, { chains: [{ userId: query.userId }], reason: 'deleted' });
    },
  };
}

import { invalidArgument } from '../errors.js';
import type { Rotator } from '../rotator.js';
import { checkMinValidityOption, checkRotator, fetchTokens } from './tokens.js';
import type { Authorize, AuthorizeResult } from './types.js';

/** Options of {@link createAuthorize}. */
export interface AuthorizeOptions {
  /**
   * Every token handed to Bolt stays valid at least this long (ms). Default: the rotator's own rule
   * (a token inside the refresh window is served while it still has half the window left, and
   * refreshed behind the caller). Bounded like `getToken`'s `minValidityMs`.
   */
  minValidityMs?: number;
  /**
   * Look up the acting user's token (default `true`). A bot-only app sets `false`: its events then
   * cost no store read for user chains that do not exist (bot tokens are served from memory).
   */
  userTokens?: boolean;
}

/**
 * A Bolt `authorize` function backed by the rotator: every event, action and command gets fresh
 * tokens, and a chain due for refresh is refreshed once across the fleet (single-flight, lock,
 * compare-and-set) — not once per concurrent event, as `@slack/oauth`'s own rotation does.
 *
 * It returns `botToken`, `botId`, `botUserId`, `botScopes`, and — when the acting user
 * (`source.userId`) has a stored, active user chain — `userToken` and `userScopes`, plus `userId`,
 * `teamId` and `enterpriseId`. Workspace installs are looked up by team, org-wide installs
 * (`isEnterpriseInstall: true`) by enterprise, a workspace inside a grid by team.
 *
 * A user with no user chain is not an error (bot token only, as Bolt's own `authorize` does). A user
 * chain that was revoked or needs re-authorization gives no user token either, and `userTokenError`
 * in the listener's `context` says why: the bot still serves that user's events.
 *
 * @example
 * ```ts
 * const app = new App({ signingSecret, authorize: createAuthorize(rotator) });
 * ```
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for an invalid rotator or options.
 * The returned function rejects with:
 * - `ReauthorizationRequiredError` (`installation_not_found`, `reauthorization_required`,
 *   `invalid_refresh_token`, `lost_rotation`, `chain_revoked`) whose message names the installation
 *   and whose `cause` is the rotator's error, when the bot chain is missing or unusable. It never
 *   hands out a token it knows is dead: Bolt then runs no listener and answers Slack with HTTP 401.
 * - `RetryLaterError`, `ConfigurationError`, `StorageError`, `LockTimeoutError` as the rotator
 *   throws them (a still-valid token is served when a refresh fails transiently).
 */
export function createAuthorize(rotator: Rotator, options?: AuthorizeOptions): Authorize {
  const checked = checkRotator(rotator, 'createAuthorize');
  const tokenOptions = checkMinValidityOption(options, 'createAuthorize');
  const userTokens = options?.userTokens ?? true;
  if (typeof userTokens !== 'boolean') {
    throw invalidArgument('createAuthorize: userTokens must be a boolean', 'ERR_INVALID_ARG_TYPE');
  }
  return async function authorize(source) {
    if (typeof source !== 'object' || source === null) {
      throw invalidArgument('authorize needs the source object Bolt passes', 'ERR_INVALID_ARG_TYPE');
    }
    const userId = userTokens ? source.userId : undefined;
    const { bot, user, userError } = await fetchTokens(checked, source, userId, tokenOptions);
    const result: AuthorizeResult = {};
    if (bot !== undefined) {
      result.botToken = bot.token;
      if (bot.botId) result.botId = bot.botId;
      if (bot.botUserId) result.botUserId = bot.botUserId;
      result.botScopes = bot.scopes;
    }
    if (user !== undefined) {
      result.userToken = user.token;
      result.userScopes = user.scopes;
    }
    if (userError !== undefined) result.userTokenError = userError;
    if (source.userId) result.userId = source.userId;
    const found = bot ?? user;
    const teamId = source.teamId || found?.teamId;
    const enterpriseId = source.enterpriseId || found?.enterpriseId;
    if (teamId) result.teamId = teamId;
    if (enterpriseId) result.enterpriseId = enterpriseId;
    return result;
  };
}

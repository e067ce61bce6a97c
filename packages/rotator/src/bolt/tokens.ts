import type { ChainKeyInput } from '../chain.js';
import {
  invalidArgument,
  isReauthorizationRequired,
  isRotatorError,
  ReauthorizationRequiredError,
} from '../errors.js';
import type { GetTokenOptions, Rotator, TokenInfo } from '../rotator.js';

/** The ids of an installation, as Bolt and `@slack/oauth` pass them. */
export interface Place {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
}

/** The tokens of one installation, as {@link fetchTokens} found them. */
export interface InstallationTokens {
  /** The bot chain, when the installation has one. */
  bot: TokenInfo | undefined;
  /** The user chain asked for, when it is stored and active. */
  user: TokenInfo | undefined;
  /** Why the user chain asked for gave no token (revoked, or needs re-authorization). */
  userError: ReauthorizationRequiredError | undefined;
}

/** Checks the rotator argument of a factory. */
export function checkRotator(rotator: unknown, factory: string): Rotator {
  const candidate = rotator as Partial<Rotator> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.getTokenInfo !== 'function' ||
    typeof candidate.saveInstallation !== 'function' ||
    typeof candidate.deleteInstallation !== 'function'
  ) {
    throw invalidArgument(`${factory} needs a rotator (from createRotator())`, 'ERR_INVALID_ARG_TYPE');
  }
  return rotator as Rotator;
}

/** Checks an optional `minValidityMs` option; the rotator checks its upper bound on use. */
export function checkMinValidityOption(options: unknown, factory: string): GetTokenOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument(`${factory}: options must be an object`, 'ERR_INVALID_ARG_TYPE');
  }
  const value = (options as { minValidityMs?: unknown }).minValidityMs;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArgument(
      `${factory}: minValidityMs must be a non-negative number of milliseconds`,
      'ERR_INVALID_ARG_TYPE',
    );
  }
  return { minValidityMs: value };
}

/** The chain key input of an installation's bot chain (ids only; empty strings dropped). */
export function keyOf(place: Place): ChainKeyInput {
  const key: ChainKeyInput = {};
  if (place.teamId) key.teamId = place.teamId;
  if (place.enterpriseId) key.enterpriseId = place.enterpriseId;
  if (typeof place.isEnterpriseInstall === 'boolean') key.isEnterpriseInstall = place.isEnterpriseInstall;
  return key;
}

/** "org E1 (org-wide install)", "workspace T1 in enterprise E1" or "workspace T1". */
export function describePlace(place: Place): string {
  if (place.isEnterpriseInstall === true) return `org ${place.enterpriseId ?? '?'} (org-wide install)`;
  if (place.teamId && place.enterpriseId)
    return `workspace ${place.teamId} in enterprise ${place.enterpriseId}`;
  return place.teamId ? `workspace ${place.teamId}` : `enterprise ${place.enterpriseId ?? '?'}`;
}

/**
 * A re-authorization error that names the installation; the rotator's own error is its `cause`.
 * Other errors (retry later, configuration, storage) are returned as they are.
 */
export function namingInstallation(error: unknown, place: Place): unknown {
  if (!isReauthorizationRequired(error)) return error;
  const where = describePlace(place);
  const message =
    error.code === 'installation_not_found'
      ? `[slack-rotator] no installation is stored for ${where}: install the app there`
      : `[slack-rotator] ${where} must install the app again: chain ${error.chainKey ?? '?'} is unusable (${error.code})`;
  return new ReauthorizationRequiredError(error.code, message, {
    ...(error.chainKey === undefined ? {} : { chainKey: error.chainKey }),
    ...(error.slackError === undefined ? {} : { slackError: error.slackError }),
    cause: error,
  });
}

const notFound = (error: unknown) => isRotatorError(error) && error.code === 'installation_not_found';

/**
 * Reads an installation's bot chain and one user's chain through the rotator (fresh tokens; a chain
 * due for refresh is refreshed by the rotator, once, fleet-wide).
 *
 * - A bot chain that is not active throws (named after the installation): its token is dead.
 * - A user chain that is missing gives no user token; one that is revoked or needs re-authorization
 *   gives no user token and `userError` — the bot can still act for that user's events.
 * - Neither chain stored: `installation_not_found`.
 * - `userId: 'installer'` asks for the user who installed the app (stored with the bot chain).
 */
export async function fetchTokens(
  rotator: Rotator,
  place: Place,
  userId: string | 'installer' | undefined,
  options: GetTokenOptions | undefined,
): Promise<InstallationTokens> {
  const key = keyOf(place);
  const readUser = async (id: string | null | undefined) => {
    if (!id) return { user: undefined, userError: undefined };
    try {
      return {
        user: await rotator.getTokenInfo({ ...key, chain: { userId: id } }, options),
        userError: undefined,
      };
    } catch (error) {
      if (notFound(error)) return { user: undefined, userError: undefined };
      if (isReauthorizationRequired(error)) return { user: undefined, userError: error };
      throw error;
    }
  };
  const readBot = async () => {
    try {
      return { bot: await rotator.getTokenInfo(key, options), botMissing: undefined };
    } catch (error) {
      if (notFound(error)) return { bot: undefined, botMissing: error };
      throw namingInstallation(error, place);
    }
  };
  let bot: TokenInfo | undefined;
  let botMissing: unknown;
  let user: Awaited<ReturnType<typeof readUser>>;
  if (userId === 'installer') {
    ({ bot, botMissing } = await readBot());
    user = await readUser(bot?.userId);
  } else {
    const [botRead, userRead] = await Promise.all([readBot(), readUser(userId)]);
    ({ bot, botMissing } = botRead);
    user = userRead;
  }
  if (bot === undefined && user.user === undefined) {
    throw namingInstallation(user.userError ?? botMissing, place);
  }
  return { bot, ...user };
}

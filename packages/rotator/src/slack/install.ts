import { invalidArgument } from '../errors.js';
import type { TokenRecord } from '../store/types.js';
import { parseScopes } from './outcome.js';

/** One chain read out of an install or exchange answer, before it is keyed and stored. */
export type ChainDraft = Pick<
  TokenRecord,
  | 'installationId'
  | 'enterpriseId'
  | 'teamId'
  | 'isEnterpriseInstall'
  | 'kind'
  | 'userId'
  | 'appId'
  | 'botId'
  | 'botUserId'
  | 'scopes'
  | 'accessToken'
  | 'refreshToken'
  | 'expiresAt'
>;

/** Options for reading an install or exchange answer. */
export interface ParseInstallOptions {
  /** When the answer was received (epoch ms): `expires_in` counts from there. */
  issuedAt: number;
  /** The bot id (`B…`), which `oauth.v2.access` does not return (`auth.test` does). */
  botId?: string | undefined;
  /** For an `oauth.v2.exchange` answer of a user token: whose token it is. */
  userId?: string | undefined;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalId(value: unknown, name: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string`, 'ERR_INVALID_ARG_TYPE');
  return value;
}

function objectId(value: unknown, name: string): string | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value))
    throw invalidArgument(`${name} must be an object with an id or null`, 'ERR_INVALID_ARG_TYPE');
  return optionalId(value.id, `${name}.id`);
}

/** The token fields of one chain; names the field path in errors, never the value. */
function tokenFields(
  body: Json,
  path: string,
  issuedAt: number,
): Pick<ChainDraft, 'accessToken' | 'refreshToken' | 'expiresAt'> {
  const { access_token: accessToken, refresh_token: refreshToken, expires_in: expiresIn } = body;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw invalidArgument(`${path}access_token must be a non-empty string`, 'ERR_INVALID_ARG_TYPE');
  }
  if (refreshToken === undefined || refreshToken === null) {
    throw invalidArgument(
      `${path}refresh_token is missing: token rotation is not enabled for this app (legacy tokens can be turned into chains with oauth.v2.exchange)`,
    );
  }
  if (typeof refreshToken !== 'string' || refreshToken === '') {
    throw invalidArgument(`${path}refresh_token must be a non-empty string`, 'ERR_INVALID_ARG_TYPE');
  }
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw invalidArgument(`${path}expires_in must be a positive number of seconds`);
  }
  return { accessToken, refreshToken, expiresAt: issuedAt + expiresIn * 1000 };
}

function identity(
  body: Json,
): Pick<ChainDraft, 'installationId' | 'enterpriseId' | 'teamId' | 'isEnterpriseInstall'> {
  const teamId = objectId(body.team, 'team') ?? optionalId(body.team_id, 'team_id');
  const enterpriseId =
    objectId(body.enterprise, 'enterprise') ?? optionalId(body.enterprise_id, 'enterprise_id');
  const isEnterpriseInstall = body.is_enterprise_install === true;
  if (isEnterpriseInstall && enterpriseId === null) {
    throw invalidArgument('an org-wide install (is_enterprise_install: true) needs enterprise.id');
  }
  const installationId = isEnterpriseInstall ? enterpriseId : teamId;
  if (installationId === null) throw invalidArgument('the answer names neither team.id nor enterprise.id');
  return { installationId, enterpriseId, teamId: isEnterpriseInstall ? null : teamId, isEnterpriseInstall };
}

/**
 * Reads the chains of an `oauth.v2.access` install answer (bot at the top level, user under
 * `authed_user`) or of an `oauth.v2.exchange` answer (one chain; `token_type` says which).
 * @throws TypeError (`ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE`) naming the bad field.
 */
export function parseInstallResponse(response: unknown, options: ParseInstallOptions): ChainDraft[] {
  if (!isObject(response)) {
    throw invalidArgument(
      'an install response must be the JSON object Slack answered',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  if (response.ok !== true) {
    const error = typeof response.error === 'string' ? ` (error: ${response.error})` : '';
    throw invalidArgument(`an install response must have ok: true${error}`);
  }
  const who = identity(response);
  const appId = optionalId(response.app_id, 'app_id');
  const drafts: ChainDraft[] = [];
  const authedUser = response.authed_user;
  const isExchange = authedUser === undefined && typeof response.token_type === 'string';

  const userDraft = (body: Json, userId: string, path: string): ChainDraft => ({
    ...who,
    kind: 'user',
    userId,
    appId,
    botId: null,
    botUserId: null,
    scopes: parseScopes(body.scope) ?? [],
    ...tokenFields(body, path, options.issuedAt),
  });

  if (isExchange && response.token_type === 'user') {
    const userId = options.userId ?? optionalId(response.user_id, 'user_id');
    if (userId === null)
      throw invalidArgument('a user token exchange needs options.userId (whose token it is)');
    return [userDraft(response, userId, '')];
  }

  if (response.access_token !== undefined) {
    if (response.token_type !== undefined && response.token_type !== 'bot') {
      throw invalidArgument(`token_type at the top level must be 'bot'`);
    }
    drafts.push({
      ...who,
      kind: 'bot',
      userId: isObject(authedUser) ? optionalId(authedUser.id, 'authed_user.id') : null,
      appId,
      botId: options.botId ?? optionalId(response.bot_id, 'bot_id'),
      botUserId: optionalId(response.bot_user_id, 'bot_user_id'),
      scopes: parseScopes(response.scope) ?? [],
      ...tokenFields(response, '', options.issuedAt),
    });
  }
  if (authedUser !== undefined && authedUser !== null) {
    if (!isObject(authedUser)) throw invalidArgument('authed_user must be an object', 'ERR_INVALID_ARG_TYPE');
    if (authedUser.access_token !== undefined) {
      const userId = optionalId(authedUser.id, 'authed_user.id');
      if (userId === null) throw invalidArgument('authed_user.id is required with a user token');
      drafts.push(userDraft(authedUser, userId, 'authed_user.'));
    }
  }
  if (drafts.length === 0) throw invalidArgument('the install response holds no access token');
  return drafts;
}

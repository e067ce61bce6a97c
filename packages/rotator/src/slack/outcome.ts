import type { RawResult } from './transport.js';

/**
 * What a refresh-style call (`oauth.v2.access` refresh grant, `oauth.v2.exchange`,
 * `tooling.tokens.rotate`) means for the chain.
 */
export type RefreshOutcome =
  | {
      /** Slack answered `ok: true`: the old refresh token is spent. Never discard this. */
      kind: 'issued';
      pair: IssuedPair;
      /** Anything odd about the answer; each is logged, stored what came, then raised. */
      anomalies: Anomaly[];
    }
  | {
      /** The chain is dead at Slack (`invalid_refresh_token` and friends). */
      kind: 'terminal';
      slackError: string;
      status: number;
    }
  | {
      /** The app's credentials or request are wrong; nothing about the chain is known. */
      kind: 'configuration';
      slackError: string;
      status: number;
    }
  | {
      /** Nothing was spent; try again after `retryAfterMs`. */
      kind: 'rate_limited';
      retryAfterMs: number | undefined;
      status: number;
    }
  | {
      /** Slack may or may not have rotated the chain. Retry promptly with the same token. */
      kind: 'ambiguous';
      reason: AmbiguousReason;
      slackError?: string;
      status?: number;
      cause?: unknown;
      /** For a timeout: the answer, if it still arrives. */
      late?: Promise<RawResult>;
    }
  | {
      /** Slack refused with an error this library does not know; nothing was spent. */
      kind: 'refused';
      slackError: string;
      status: number;
    };

export type AmbiguousReason = 'http_5xx' | 'slack_error' | 'timeout' | 'network' | 'not_json';

/** Something unexpected in an `ok: true` answer. */
export type Anomaly =
  | 'missing_access_token'
  | 'missing_refresh_token'
  | 'missing_expires_in'
  | 'token_type_mismatch';

/** The pair (and identity fields) an `ok: true` answer carried; absent fields were not in it. */
export interface IssuedPair {
  accessToken?: string;
  refreshToken?: string;
  /** Absolute expiry computed from the time the request started (epoch ms). */
  expiresAt?: number;
  tokenType?: string;
  scopes?: string[];
  appId?: string;
  botUserId?: string;
  userId?: string;
  teamId?: string;
  enterpriseId?: string;
  isEnterpriseInstall?: boolean;
}

/** Slack errors that mean the chain is gone. */
export const TERMINAL_ERRORS: ReadonlySet<string> = new Set([
  'invalid_refresh_token',
  'token_revoked',
  'app_uninstalled',
]);

/** Slack errors that mean the app's configuration is wrong. */
export const CONFIGURATION_ERRORS: ReadonlySet<string> = new Set([
  'invalid_client_id',
  'bad_client_secret',
  'invalid_grant_type',
  'invalid_client',
  'invalid_arguments',
  'bad_redirect_uri',
  'token_rotation_not_enabled',
]);

/** Slack errors after which some part of the operation may have succeeded. */
export const AMBIGUOUS_ERRORS: ReadonlySet<string> = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function objectId(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? text((value as { id?: unknown }).id) : undefined;
}

/** Splits Slack's comma-separated `scope` string. */
export function parseScopes(value: unknown): string[] | undefined {
  const scope = text(value);
  return scope === undefined ? undefined : scope.split(/[,\s]+/).filter((s) => s !== '');
}

/** Reads the identity fields and the pair out of an `ok: true` body. */
function readPair(body: Record<string, unknown>, startedAt: number, shape: 'oauth' | 'tooling'): IssuedPair {
  const pair: IssuedPair = {};
  const accessToken = text(shape === 'tooling' ? body.token : body.access_token);
  if (accessToken !== undefined) pair.accessToken = accessToken;
  const refreshToken = text(body.refresh_token);
  if (refreshToken !== undefined) pair.refreshToken = refreshToken;
  if (shape === 'tooling') {
    if (typeof body.exp === 'number' && Number.isFinite(body.exp) && body.exp > 0)
      pair.expiresAt = body.exp * 1000;
  } else if (typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0) {
    pair.expiresAt = startedAt + body.expires_in * 1000;
  }
  const tokenType = text(body.token_type);
  if (tokenType !== undefined) pair.tokenType = tokenType;
  const scopes = parseScopes(body.scope);
  if (scopes !== undefined) pair.scopes = scopes;
  const appId = text(body.app_id);
  if (appId !== undefined) pair.appId = appId;
  const botUserId = text(body.bot_user_id);
  if (botUserId !== undefined) pair.botUserId = botUserId;
  const userId = text(body.user_id);
  if (userId !== undefined) pair.userId = userId;
  const teamId = objectId(body.team) ?? text(body.team_id);
  if (teamId !== undefined) pair.teamId = teamId;
  const enterpriseId = objectId(body.enterprise) ?? text(body.enterprise_id);
  if (enterpriseId !== undefined) pair.enterpriseId = enterpriseId;
  if (typeof body.is_enterprise_install === 'boolean') pair.isEnterpriseInstall = body.is_enterprise_install;
  return pair;
}

/**
 * Judges the answer to a refresh-style call.
 * @param expectedTokenType `'bot'` or `'user'` for `oauth.v2.access`; `undefined` to skip the check.
 * @param startedAt when the request was sent (epoch ms): `expires_in` counts from there.
 */
export function processRefreshResult(
  raw: RawResult,
  options: { startedAt: number; expectedTokenType: string | undefined; shape?: 'oauth' | 'tooling' },
): RefreshOutcome {
  switch (raw.kind) {
    case 'timeout':
      return { kind: 'ambiguous', reason: 'timeout', late: raw.late };
    case 'network':
      return { kind: 'ambiguous', reason: 'network', cause: raw.cause };
    case 'not_json':
      if (raw.status === 429) return { kind: 'rate_limited', retryAfterMs: undefined, status: raw.status };
      return raw.status >= 500 || raw.status < 300
        ? { kind: 'ambiguous', reason: raw.status >= 500 ? 'http_5xx' : 'not_json', status: raw.status }
        : { kind: 'refused', slackError: `http_${raw.status}`, status: raw.status };
  }
  const { body, status } = raw;
  if (status === 429 || body.error === 'ratelimited' || body.error === 'rate_limited') {
    return { kind: 'rate_limited', retryAfterMs: raw.retryAfterMs, status };
  }
  if (status >= 500) {
    const slackError = text(body.error);
    return { kind: 'ambiguous', reason: 'http_5xx', status, ...(slackError ? { slackError } : {}) };
  }
  if (body.ok === true) {
    const pair = readPair(body, options.startedAt, options.shape ?? 'oauth');
    const anomalies: Anomaly[] = [];
    if (pair.accessToken === undefined) anomalies.push('missing_access_token');
    if (pair.refreshToken === undefined) anomalies.push('missing_refresh_token');
    if (pair.expiresAt === undefined) anomalies.push('missing_expires_in');
    if (
      options.expectedTokenType !== undefined &&
      pair.tokenType !== undefined &&
      pair.tokenType !== options.expectedTokenType
    ) {
      anomalies.push('token_type_mismatch');
    }
    return { kind: 'issued', pair, anomalies };
  }
  const slackError = text(body.error) ?? 'unknown_error';
  if (TERMINAL_ERRORS.has(slackError)) return { kind: 'terminal', slackError, status };
  if (CONFIGURATION_ERRORS.has(slackError)) return { kind: 'configuration', slackError, status };
  if (AMBIGUOUS_ERRORS.has(slackError))
    return { kind: 'ambiguous', reason: 'slack_error', slackError, status };
  if (body.ok !== false) return { kind: 'ambiguous', reason: 'not_json', status };
  return { kind: 'refused', slackError, status };
}

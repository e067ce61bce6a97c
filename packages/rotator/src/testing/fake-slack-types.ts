/** The public data types of the fake Slack. */

/** What `FakeSlack.install` and the `authorization_code` grant install. */
export interface InstallSpec {
  /** The workspace; generated when absent (and the install is not org-wide). */
  teamId?: string;
  teamName?: string;
  /** The Enterprise Grid organization, if any; generated for an org-wide install when absent. */
  enterpriseId?: string;
  enterpriseName?: string;
  /** An org-wide install: `team: null`, keyed by the enterprise. */
  isEnterpriseInstall?: boolean;
  /** The authed user (the installer), default `'U0INSTALLER'`. */
  userId?: string;
  /** Default `['chat:write']`. */
  botScopes?: string[];
  /** When non-empty, a user token chain is created too. */
  userScopes?: string[];
  /** Creates a user token chain (with `userScopes`, default `['search:read']`). */
  withUserToken?: boolean;
  /** The bot's user id; generated when absent. */
  botUserId?: string;
}

/** `{ id, name }` of a team or an enterprise, as Slack shapes it. */
export interface NamedId {
  id: string;
  name: string;
}

/**
 * The `oauth.v2.access` answer to an install (rotation on), as Slack shapes it.
 * @see https://docs.slack.dev/reference/methods/oauth.v2.access
 */
export interface InstallResponse {
  ok: true;
  app_id: string;
  authed_user: {
    id: string;
    scope?: string;
    access_token?: string;
    token_type?: 'user';
    refresh_token?: string;
    expires_in?: number;
  };
  scope: string;
  token_type: 'bot';
  access_token: string;
  bot_user_id: string;
  refresh_token: string;
  expires_in: number;
  team: NamedId | null;
  enterprise: NamedId | null;
  is_enterprise_install: boolean;
}

/** An app configuration token pair, as the App Config page gives it. `iat`/`exp` are epoch seconds. */
export interface ConfigToken {
  token: string;
  refreshToken: string;
  teamId: string;
  userId: string;
  iat: number;
  exp: number;
}

/** Where a refresh token stands, seen without spending it. */
export type RefreshTokenStatus = 'active' | 'grace' | 'dead' | 'unknown';
/** Where an access token stands. */
export type AccessTokenStatus = 'active' | 'expired' | 'revoked' | 'unknown';

/** The result of one operation: a Slack answer body, or a Slack error code; and the chain concerned. */
export type Outcome<T> =
  | { ok: true; body: T; chainId: string | undefined }
  | { ok: false; error: string; chainId: string | undefined };

/**
 * The state of one chain of the fake Slack, for assertions such as "exactly one refresh" or
 * "no chain locked out".
 */
export interface ChainState {
  chainId: string;
  kind: 'bot' | 'user' | 'config';
  teamId: string | null;
  enterpriseId: string | null;
  userId: string | null;
  /** Calls that presented one of this chain's refresh tokens, whatever their outcome (faults included). */
  refreshCalls: number;
  /** Refresh tokens spent: first presentations that issued a pair. */
  rotations: number;
  /** Calls that presented a refresh token of this chain that an earlier call had presented. */
  duplicates: number;
  /** Extra pairs issued from an already-spent refresh token within its grace period. */
  forks: number;
  /** Revoked as a whole (uninstall, `revokeChain`). */
  revoked: boolean;
  /** Some refresh token of this chain would still be accepted. */
  currentRefreshTokenAlive: boolean;
  /** Unexpired, unrevoked access tokens. */
  activeAccessTokens: number;
}

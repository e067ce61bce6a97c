/** The records behind the fake Slack's chains, and the answers built from them. No I/O. */

import type { ChainState } from './fake-slack-types.js';

/** A Slack answer body: `{ ok, ... }`. */
export type SlackAnswer = { ok: boolean } & Record<string, unknown>;

/** Where an installation lives. */
export interface Place {
  team: { id: string; name: string } | null;
  enterprise: { id: string; name: string } | null;
  isEnterpriseInstall: boolean;
}

/** One issued access token. */
export interface AccessEntry {
  readonly token: string;
  readonly chain: Chain;
  readonly issuedAt: number;
  /** When it really dies (epoch ms): issue time + the real lifetime. */
  readonly expiresAt: number;
  revoked: boolean;
}

/** One issued refresh token, in the tree of its chain. */
export interface RefreshEntry {
  readonly token: string;
  readonly chain: Chain;
  /** The refresh token it was issued from; `null` for the first of a chain. */
  readonly parent: RefreshEntry | null;
  /** When it was first presented and spent (epoch ms); `null` while unspent. */
  spentAt: number | null;
  /** The pairs issued from it, in order: more than one when it was presented again within grace. */
  readonly children: RefreshEntry[];
}

/** One token chain (bot, user or app configuration). */
export interface Chain {
  readonly id: string;
  readonly kind: 'bot' | 'user' | 'config';
  readonly place: Place;
  readonly teamId: string | null;
  readonly enterpriseId: string | null;
  readonly userId: string | null;
  readonly botUserId: string | null;
  readonly botId: string | null;
  readonly scopes: readonly string[];
  revoked: boolean;
  refreshCalls: number;
  rotations: number;
  duplicates: number;
  forks: number;
  readonly accessTokens: AccessEntry[];
  readonly refreshTokens: RefreshEntry[];
}

/** A legacy long-lived token, exchangeable once. */
export interface LegacyToken {
  readonly n: number;
  readonly kind: 'bot' | 'user';
  readonly place: Place;
  readonly userId: string;
  revoked: boolean;
  /** The chain it was exchanged for, once it was. */
  chain: Chain | undefined;
}

/** Who a token is, as `auth.test` tells it. */
export interface Identity {
  kind: 'bot' | 'user' | 'config';
  place: Place;
  /** The bot's user id for a bot token, else the user's id. */
  userId: string;
  botId: string | null;
  /** Seconds left of the reported lifetime, for rotating tokens. */
  expiresIn: number | undefined;
}

/** Creates a chain record with zeroed counters. */
export function newChain(
  id: string,
  kind: Chain['kind'],
  place: Place,
  who: { userId: string | null; botUserId: string | null; botId: string | null; scopes: readonly string[] },
): Chain {
  return {
    id,
    kind,
    place,
    teamId: place.team?.id ?? null,
    enterpriseId: place.enterprise?.id ?? null,
    userId: who.userId,
    botUserId: who.botUserId,
    botId: who.botId,
    scopes: [...who.scopes],
    revoked: false,
    refreshCalls: 0,
    rotations: 0,
    duplicates: 0,
    forks: 0,
    accessTokens: [],
    refreshTokens: [],
  };
}

/** The public snapshot of a chain. */
export function stateOf(
  chain: Chain,
  live: { currentRefreshTokenAlive: boolean; activeAccessTokens: number },
): ChainState {
  return {
    chainId: chain.id,
    kind: chain.kind,
    teamId: chain.teamId,
    enterpriseId: chain.enterpriseId,
    userId: chain.userId,
    refreshCalls: chain.refreshCalls,
    rotations: chain.rotations,
    duplicates: chain.duplicates,
    forks: chain.forks,
    revoked: chain.revoked,
    ...live,
  };
}

/**
 * The answer to a refresh grant of `oauth.v2.access` (and to `oauth.v2.exchange`): the new pair at
 * the top level, `token_type` saying whose it is.
 */
export function refreshAnswer(
  chain: Chain,
  settings: { appId: string; expiresInSeconds: number },
  accessToken: string,
  refreshToken: string,
): SlackAnswer {
  const who = chain.kind === 'bot' ? { bot_user_id: chain.botUserId } : { user_id: chain.userId };
  return {
    ok: true,
    app_id: settings.appId,
    scope: chain.scopes.join(','),
    token_type: chain.kind === 'bot' ? 'bot' : 'user',
    access_token: accessToken,
    ...who,
    refresh_token: refreshToken,
    expires_in: settings.expiresInSeconds,
    team: chain.place.team,
    enterprise: chain.place.enterprise,
    is_enterprise_install: chain.place.isEnterpriseInstall,
  };
}

/** The identity behind a chain's access token, or a legacy token. */
export function identityOf(owner: Chain | LegacyToken, expiresIn?: number): Identity {
  if ('accessTokens' in owner) {
    return {
      kind: owner.kind,
      place: owner.place,
      userId: (owner.kind === 'bot' ? owner.botUserId : owner.userId) ?? '',
      botId: owner.botId,
      expiresIn,
    };
  }
  const bot = owner.kind === 'bot';
  return {
    kind: owner.kind,
    place: owner.place,
    userId: bot ? `UB${String(owner.n).padStart(8, '0')}` : owner.userId,
    botId: bot ? `B${String(owner.n).padStart(8, '0')}` : null,
    expiresIn: undefined,
  };
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'workspace'
  );
}

/**
 * The `auth.test` answer for an identity.
 * @see https://docs.slack.dev/reference/methods/auth.test
 */
export function authTestAnswer(identity: Identity, appId: string): SlackAnswer {
  const { place } = identity;
  const teamName = place.team?.name ?? place.enterprise?.name ?? 'workspace';
  const answer: SlackAnswer = {
    ok: true,
    url: `https://${slug(teamName)}.slack.com/`,
    team: teamName,
    user: identity.kind === 'bot' ? 'fake-bot' : identity.userId.toLowerCase(),
    // An org-wide token belongs to no workspace: Slack reports the enterprise there.
    team_id: place.team?.id ?? place.enterprise?.id ?? '',
    user_id: identity.userId,
  };
  if (identity.botId !== null) answer.bot_id = identity.botId;
  if (identity.kind === 'bot') answer.app_id = appId;
  if (place.enterprise !== null) answer.enterprise_id = place.enterprise.id;
  answer.is_enterprise_install = place.isEnterpriseInstall;
  if (identity.expiresIn !== undefined) answer.expires_in = identity.expiresIn;
  return answer;
}

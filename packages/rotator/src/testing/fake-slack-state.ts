import { invalidArgument } from '../errors.js';
import {
  type Chain,
  type Identity,
  identityOf,
  type LegacyToken,
  newChain,
  refreshAnswer,
  type SlackAnswer,
  stateOf,
} from './fake-slack-chain.js';
import { createTokenLedger, type LedgerRules, randomPart } from './fake-slack-tokens.js';
import type {
  AccessTokenStatus,
  ChainState,
  ConfigToken,
  InstallResponse,
  InstallSpec,
  Outcome,
  RefreshTokenStatus,
} from './fake-slack-types.js';

/** Settings of {@link createFakeSlackState}, already validated. */
export interface FakeSlackStateOptions extends LedgerRules {
  appId: string;
  /** The `expires_in` reported (seconds). */
  expiresInSeconds: number;
  /** `false`: `oauth.v2.exchange` answers `token_rotation_not_enabled`. */
  rotationEnabled: boolean;
}

/**
 * Slack's token semantics, without HTTP: chains, single-use refresh tokens with a grace period,
 * sibling pairs and which one survives, the active-token limit, expiry and revocation. Everything
 * is evaluated lazily from the injected clock (no timers).
 */
export interface FakeSlackState {
  /** Creates the chains of an install and returns Slack's install answer. */
  install(spec: InstallSpec): InstallResponse;
  /** Registers an install for the `authorization_code` grant; returns the single-use code. */
  createAuthorizationCode(spec: InstallSpec): string;
  /** Redeems a code (`invalid_code` when unknown or used). */
  redeemAuthorizationCode(code: string): Outcome<InstallResponse>;
  /** A legacy long-lived token that {@link FakeSlackState.exchange} turns into a chain once. */
  createLegacyToken(spec: {
    teamId: string;
    enterpriseId?: string;
    userId?: string;
    kind: 'bot' | 'user';
  }): string;
  /** `oauth.v2.exchange` after the client credentials were checked. */
  exchange(legacyToken: string): Outcome<SlackAnswer>;
  /** An app configuration token chain. */
  createConfigToken(spec: { teamId: string; userId: string }): ConfigToken;
  /**
   * Notes that a call presented `refreshToken` (whatever happens next, faults included): counts it
   * on its chain and says whether an earlier call presented it already.
   */
  presentRefreshToken(refreshToken: string): { duplicate: boolean; chainId: string | undefined };
  /** The refresh grant of `oauth.v2.access` (`via: 'oauth'`) or `tooling.tokens.rotate` (`via: 'tooling'`). */
  refresh(refreshToken: string, via: 'oauth' | 'tooling'): Outcome<SlackAnswer>;
  /** Who an access token is, for Web API methods (`invalid_auth`, `token_expired`, `token_revoked`). */
  authenticate(token: string): Outcome<Identity>;
  /** Revokes one access token (`auth.revoke`). */
  revokeToken(token: string): void;
  /** Revokes every token of the chain `token` belongs to. */
  revokeChain(token: string): void;
  /** Where a refresh token stands, without spending it. */
  peekRefreshToken(token: string): RefreshTokenStatus;
  /** Where an access token stands. */
  peekAccessToken(token: string): AccessTokenStatus;
  /** The chain a token (access, refresh or exchanged legacy token) belongs to. */
  chainOf(token: string): ChainState | undefined;
  /** Every chain, in creation order. */
  chains(): ChainState[];
}

function pad(n: number): string {
  return String(n).padStart(8, '0');
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw invalidArgument(`${name} must be a non-empty string`, 'ERR_INVALID_ARG_TYPE');
  }
  return value;
}

function scopesOf(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((scope) => typeof scope === 'string')) {
    throw invalidArgument(`${name} must be an array of strings`, 'ERR_INVALID_ARG_TYPE');
  }
  return [...value];
}

/** Creates the token semantics of the fake Slack. */
export function createFakeSlackState(options: FakeSlackStateOptions): FakeSlackState {
  const { now } = options;
  const chains: Chain[] = [];
  const ledger = createTokenLedger(options);
  const { issueAccess, issueRefresh } = ledger;
  const legacyTokens = new Map<string, LegacyToken>();
  const codes = new Map<string, InstallSpec>();
  const presented = new Set<string>();
  let sequence = 0;

  const next = () => {
    sequence += 1;
    return sequence;
  };

  function findChain(token: string): Chain | undefined {
    return (
      ledger.access(token)?.chain ??
      ledger.refresh(token)?.chain ??
      legacyTokens.get(token)?.chain ??
      undefined
    );
  }

  const state: FakeSlackState = {
    install(spec) {
      if (spec === null || typeof spec !== 'object') {
        throw invalidArgument('an install spec must be an object', 'ERR_INVALID_ARG_TYPE');
      }
      const n = next();
      const orgWide = spec.isEnterpriseInstall === true;
      let enterpriseId = optionalString(spec.enterpriseId, 'enterpriseId') ?? null;
      if (orgWide && enterpriseId === null) enterpriseId = `E${pad(n)}`;
      const teamId = orgWide ? null : (optionalString(spec.teamId, 'teamId') ?? `T${pad(n)}`);
      const userId = optionalString(spec.userId, 'userId') ?? 'U0INSTALLER';
      const botScopes = scopesOf(spec.botScopes, 'botScopes') ?? ['chat:write'];
      let userScopes = scopesOf(spec.userScopes, 'userScopes') ?? [];
      if (spec.withUserToken === true && userScopes.length === 0) userScopes = ['search:read'];
      const team = teamId === null ? null : { id: teamId, name: spec.teamName ?? `Fake Team ${teamId}` };
      const enterprise =
        enterpriseId === null
          ? null
          : { id: enterpriseId, name: spec.enterpriseName ?? `Fake Org ${enterpriseId}` };
      const place = { team, enterprise, isEnterpriseInstall: orgWide };

      const bot = newChain(`chain-${n}-bot`, 'bot', place, {
        userId,
        botUserId: optionalString(spec.botUserId, 'botUserId') ?? `UB${pad(n)}`,
        botId: `B${pad(n)}`,
        scopes: botScopes,
      });
      chains.push(bot);
      const response: InstallResponse = {
        ok: true,
        app_id: options.appId,
        authed_user: { id: userId },
        scope: botScopes.join(','),
        token_type: 'bot',
        access_token: issueAccess(bot),
        bot_user_id: bot.botUserId ?? '',
        refresh_token: issueRefresh(bot, null),
        expires_in: options.expiresInSeconds,
        team,
        enterprise,
        is_enterprise_install: orgWide,
      };
      if (userScopes.length > 0) {
        const user = newChain(`chain-${n}-user`, 'user', place, {
          userId,
          botUserId: null,
          botId: null,
          scopes: userScopes,
        });
        chains.push(user);
        response.authed_user = {
          id: userId,
          scope: userScopes.join(','),
          access_token: issueAccess(user),
          token_type: 'user',
          refresh_token: issueRefresh(user, null),
          expires_in: options.expiresInSeconds,
        };
      }
      return response;
    },

    createAuthorizationCode(spec) {
      const code = `${next()}.${randomPart()}`;
      codes.set(code, { ...spec });
      return code;
    },

    redeemAuthorizationCode(code) {
      const spec = codes.get(code);
      if (spec === undefined) return { ok: false, error: 'invalid_code', chainId: undefined };
      codes.delete(code);
      const body = state.install(spec);
      return { ok: true, body, chainId: findChain(body.access_token)?.id };
    },

    createLegacyToken(spec) {
      if (spec === null || typeof spec !== 'object' || (spec.kind !== 'bot' && spec.kind !== 'user')) {
        throw invalidArgument("a legacy token spec needs kind 'bot' or 'user'", 'ERR_INVALID_ARG_TYPE');
      }
      const teamId = optionalString(spec.teamId, 'teamId');
      if (teamId === undefined) throw invalidArgument('a legacy token spec needs teamId');
      const enterpriseId = optionalString(spec.enterpriseId, 'enterpriseId') ?? null;
      const n = next();
      const token = `${spec.kind === 'bot' ? 'xoxb' : 'xoxp'}-${n}-${pad(n)}-${randomPart()}`;
      legacyTokens.set(token, {
        n,
        kind: spec.kind,
        place: {
          team: { id: teamId, name: `Fake Team ${teamId}` },
          enterprise: enterpriseId === null ? null : { id: enterpriseId, name: `Fake Org ${enterpriseId}` },
          isEnterpriseInstall: false,
        },
        userId: optionalString(spec.userId, 'userId') ?? 'U0INSTALLER',
        revoked: false,
        chain: undefined,
      });
      return token;
    },

    exchange(legacyToken) {
      if (!options.rotationEnabled)
        return { ok: false, error: 'token_rotation_not_enabled', chainId: undefined };
      const legacy = legacyTokens.get(legacyToken);
      if (legacy === undefined) return { ok: false, error: 'invalid_token', chainId: undefined };
      if (legacy.chain !== undefined)
        return { ok: false, error: 'token_already_exchanged', chainId: legacy.chain.id };
      if (legacy.revoked) return { ok: false, error: 'authorization_not_found', chainId: undefined };
      const bot = legacy.kind === 'bot';
      const chain = newChain(`chain-${next()}-${legacy.kind}`, legacy.kind, legacy.place, {
        userId: legacy.userId,
        botUserId: bot ? `UB${pad(legacy.n)}` : null,
        botId: bot ? `B${pad(legacy.n)}` : null,
        scopes: bot ? ['chat:write'] : ['search:read'],
      });
      chains.push(chain);
      legacy.chain = chain;
      const body = refreshAnswer(chain, options, issueAccess(chain), issueRefresh(chain, null));
      return { ok: true, body, chainId: chain.id };
    },

    createConfigToken(spec) {
      const teamId = optionalString(spec?.teamId, 'teamId');
      const userId = optionalString(spec?.userId, 'userId');
      if (teamId === undefined || userId === undefined)
        throw invalidArgument('a config token needs teamId and userId');
      const place = {
        team: { id: teamId, name: `Fake Team ${teamId}` },
        enterprise: null,
        isEnterpriseInstall: false,
      };
      const chain = newChain(`chain-${next()}-config`, 'config', place, {
        userId,
        botUserId: null,
        botId: null,
        scopes: [],
      });
      chains.push(chain);
      const iat = Math.floor(now() / 1000);
      return {
        token: issueAccess(chain),
        refreshToken: issueRefresh(chain, null),
        teamId,
        userId,
        iat,
        exp: iat + options.expiresInSeconds,
      };
    },

    presentRefreshToken(refreshToken) {
      const duplicate = presented.has(refreshToken);
      presented.add(refreshToken);
      const chain = ledger.refresh(refreshToken)?.chain;
      if (chain !== undefined) {
        chain.refreshCalls += 1;
        if (duplicate) chain.duplicates += 1;
      }
      return { duplicate, chainId: chain?.id };
    },

    refresh(refreshToken, via) {
      const entry = ledger.refresh(refreshToken);
      if (entry === undefined) return { ok: false, error: 'invalid_refresh_token', chainId: undefined };
      const chain = entry.chain;
      const pair = (chain.kind === 'config') === (via === 'tooling') ? ledger.redeem(entry) : undefined;
      if (pair === undefined) return { ok: false, error: 'invalid_refresh_token', chainId: chain.id };
      if (via === 'oauth') {
        const body = refreshAnswer(chain, options, pair.accessToken, pair.refreshToken);
        return { ok: true, body, chainId: chain.id };
      }
      const iat = Math.floor(now() / 1000);
      const body = {
        ok: true,
        token: pair.accessToken,
        refresh_token: pair.refreshToken,
        team_id: chain.teamId ?? '',
        user_id: chain.userId ?? '',
        iat,
        exp: iat + options.expiresInSeconds,
      };
      return { ok: true, body, chainId: chain.id };
    },

    authenticate(token) {
      const legacy = legacyTokens.get(token);
      if (legacy !== undefined) {
        if (legacy.revoked) return { ok: false, error: 'token_revoked', chainId: legacy.chain?.id };
        return { ok: true, body: identityOf(legacy), chainId: legacy.chain?.id };
      }
      const entry = ledger.access(token);
      if (entry === undefined) return { ok: false, error: 'invalid_auth', chainId: undefined };
      const chainId = entry.chain.id;
      const status = ledger.accessStatus(entry);
      if (status !== 'active') return { ok: false, error: `token_${status}`, chainId };
      const reportedEnd = entry.issuedAt + options.expiresInSeconds * 1000;
      const expiresIn = Math.max(0, Math.ceil((reportedEnd - now()) / 1000));
      return { ok: true, body: identityOf(entry.chain, expiresIn), chainId };
    },

    revokeToken(token) {
      const legacy = legacyTokens.get(token);
      if (legacy !== undefined) legacy.revoked = true;
      const entry = ledger.access(token);
      if (entry !== undefined) entry.revoked = true;
    },

    revokeChain(token) {
      const chain = findChain(token);
      if (chain === undefined)
        throw invalidArgument('revokeChain: the token belongs to no chain of this fake');
      chain.revoked = true;
      for (const entry of chain.accessTokens) entry.revoked = true;
    },

    peekRefreshToken(token) {
      const entry = ledger.refresh(token);
      return entry === undefined ? 'unknown' : ledger.refreshStatus(entry);
    },

    peekAccessToken(token) {
      const entry = ledger.access(token);
      return entry === undefined ? 'unknown' : ledger.accessStatus(entry);
    },

    chainOf(token) {
      const chain = findChain(token);
      return chain === undefined ? undefined : snapshot(chain);
    },

    chains() {
      return chains.map(snapshot);
    },
  };

  function snapshot(chain: Chain): ChainState {
    return stateOf(chain, {
      currentRefreshTokenAlive: chain.refreshTokens.some((entry) => ledger.refreshStatus(entry) !== 'dead'),
      activeAccessTokens: chain.accessTokens.filter((entry) => ledger.accessStatus(entry) === 'active')
        .length,
    });
  }

  return state;
}

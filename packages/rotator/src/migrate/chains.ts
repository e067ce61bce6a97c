import { chainKeyOf, chainSuffixOf, installationIdOf } from '../chain.js';
import type { InstallationLike, MigrationChainRef, MigrationFailure } from './types.js';

/** One chain read from an installation, ready to be imported or exchanged. Holds tokens: never log it. */
export interface ChainItem {
  ref: MigrationChainRef;
  chainKey: string;
  /** `rotating`: has a refresh token; `legacy`: a long-lived `xoxb-`/`xoxp-` token. */
  mode: 'rotating' | 'legacy';
  token: string;
  refreshToken: string | undefined;
  /** When the access token expires (epoch ms); `undefined` when unknown. */
  expiresAt: number | undefined;
  scopes: string[];
  appId: string | undefined;
  botId: string | undefined;
  botUserId: string | undefined;
  /** The user of a user chain; the installer for a bot chain. */
  userId: string | undefined;
}

const LEGACY = /^xox[bp]-/;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

function expiresAtMs(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  return value > 1e12 ? value : value * 1000;
}

/**
 * Splits an installation into its bot and user chains. Returns the chains, and failures for parts
 * that cannot be migrated (never naming a token).
 */
export function chainsOf(
  installation: InstallationLike,
  clientId: string,
): { items: ChainItem[]; failures: MigrationFailure[] } {
  const isEnterpriseInstall = installation.isEnterpriseInstall === true;
  const enterpriseId = text(installation.enterprise?.id) ?? null;
  const teamId = isEnterpriseInstall ? null : (text(installation.team?.id) ?? null);
  const base = { teamId, enterpriseId, isEnterpriseInstall };
  const items: ChainItem[] = [];
  const failures: MigrationFailure[] = [];
  let installationId: string;
  try {
    installationId = installationIdOf(base);
  } catch {
    failures.push({
      ...base,
      chain: null,
      code: 'invalid_installation',
      retryable: false,
      message: 'the installation names no valid team or enterprise id',
    });
    return { items, failures };
  }
  const appId = text(installation.appId);
  const installerId = text(installation.user?.id);

  const add = (
    ref: MigrationChainRef,
    part: { token?: unknown; refreshToken?: unknown; expiresAt?: unknown; scopes?: unknown },
    extra: Pick<ChainItem, 'botId' | 'botUserId' | 'userId'>,
  ) => {
    const token = text(part.token);
    if (token === undefined) return;
    const refreshToken = text(part.refreshToken);
    const mode = refreshToken !== undefined ? 'rotating' : LEGACY.test(token) ? 'legacy' : undefined;
    if (mode === undefined) {
      failures.push({
        ...ref,
        code: 'unsupported_token',
        retryable: false,
        message: token.startsWith('xoxe.')
          ? 'a rotating access token without its refresh token cannot be migrated; install the app again'
          : 'the token is neither a legacy bot or user token nor accompanied by a refresh token',
      });
      return;
    }
    let suffix: string;
    try {
      suffix = chainSuffixOf(ref.chain ?? undefined);
    } catch {
      failures.push({ ...ref, code: 'invalid_installation', retryable: false, message: 'invalid user id' });
      return;
    }
    const scopes = Array.isArray(part.scopes)
      ? part.scopes.filter((s): s is string => typeof s === 'string')
      : [];
    items.push({
      ref,
      chainKey: chainKeyOf(clientId, installationId, suffix),
      mode,
      token,
      refreshToken,
      expiresAt: expiresAtMs(part.expiresAt),
      scopes,
      appId,
      ...extra,
    });
  };

  const bot = installation.bot;
  if (bot !== undefined && bot !== null) {
    add({ ...base, chain: 'bot' }, bot, {
      botId: text(bot.id),
      botUserId: text(bot.userId),
      userId: installerId,
    });
  }
  const user = installation.user;
  if (user !== undefined && user !== null && text(user.token) !== undefined) {
    if (installerId === undefined) {
      failures.push({
        ...base,
        chain: null,
        code: 'invalid_installation',
        retryable: false,
        message: 'a user token without user.id',
      });
    } else {
      add({ ...base, chain: { userId: installerId } }, user, {
        botId: undefined,
        botUserId: undefined,
        userId: installerId,
      });
    }
  }
  return { items, failures };
}

/**
 * The `oauth.v2.access`-shaped answer `rotator.saveInstallation` takes for a chain that already
 * rotates, and its `issuedAt`: `expires_in` is 1 s counted from one second before the stored expiry,
 * so the stored `expiresAt` is exact (an unknown expiry is taken as now: refreshed on first use).
 */
export function installAnswerOf(item: ChainItem, now: number): { answer: unknown; issuedAt: number } {
  const expiresAt = item.expiresAt ?? now;
  const place = {
    team: item.ref.teamId === null ? null : { id: item.ref.teamId },
    enterprise: item.ref.enterpriseId === null ? null : { id: item.ref.enterpriseId },
    is_enterprise_install: item.ref.isEnterpriseInstall,
  };
  const pair = {
    access_token: item.token,
    refresh_token: item.refreshToken,
    expires_in: 1,
    scope: item.scopes.join(','),
  };
  const answer =
    item.ref.chain === 'bot'
      ? {
          ok: true,
          app_id: item.appId,
          ...place,
          ...pair,
          token_type: 'bot',
          bot_user_id: item.botUserId,
          authed_user: item.userId === undefined ? undefined : { id: item.userId },
        }
      : {
          ok: true,
          app_id: item.appId,
          ...place,
          authed_user: { id: item.userId, token_type: 'user', ...pair },
        };
  return { answer, issuedAt: expiresAt - 1000 };
}

import { randomBytes } from 'node:crypto';
import type { AccessEntry, Chain, RefreshEntry } from './fake-slack-chain.js';
import type { AccessTokenStatus, RefreshTokenStatus } from './fake-slack-types.js';

/** The rules the ledger applies. */
export interface LedgerRules {
  /** When access tokens really die (ms after issue). */
  accessTokenLifetimeMs: number;
  /** How long a spent refresh token is still accepted (ms); 0 = strict. */
  refreshGraceMs: number;
  /** Which of several pairs issued from one refresh token survives its grace period. */
  siblingSurvivor: 'first' | 'last';
  /** Active access tokens per chain; 0 = unlimited. */
  maxActiveTokens: number;
  now: () => number;
}

/**
 * Every token the fake issued, and Slack's rules about them: single-use refresh tokens with a grace
 * period, sibling pairs and the one that survives, the active-token limit, expiry. Liveness is
 * computed from the clock when asked (no timers).
 */
export interface TokenLedger {
  /** Issues an access token, revoking the chain's oldest active ones beyond the limit. */
  issueAccess(chain: Chain): string;
  /** Issues a refresh token, a child of `parent` (`null` for the first of a chain). */
  issueRefresh(chain: Chain, parent: RefreshEntry | null): string;
  /** The record of an access token this ledger issued. */
  access(token: string): AccessEntry | undefined;
  /** The record of a refresh token this ledger issued. */
  refresh(token: string): RefreshEntry | undefined;
  /**
   * Presents a refresh token to be exchanged: spends it (first presentation) or forks a sibling pair
   * (within grace), counting both on the chain; `undefined` when it must be refused.
   */
  redeem(entry: RefreshEntry): { accessToken: string; refreshToken: string } | undefined;
  /** Where a refresh token stands now, without spending it. */
  refreshStatus(entry: RefreshEntry): Exclude<RefreshTokenStatus, 'unknown'>;
  /** Where an access token stands now. */
  accessStatus(entry: AccessEntry): Exclude<AccessTokenStatus, 'unknown'>;
}

/** A random token body: base64url of 24 random bytes. */
export const randomPart = () => randomBytes(24).toString('base64url');

/** Creates an empty {@link TokenLedger}. */
export function createTokenLedger(rules: LedgerRules): TokenLedger {
  const { now } = rules;
  const accessTokens = new Map<string, AccessEntry>();
  const refreshTokens = new Map<string, RefreshEntry>();

  const graceOver = (entry: RefreshEntry, at: number) =>
    entry.spentAt !== null && at - entry.spentAt >= rules.refreshGraceMs;

  /** Once a parent's grace has run out, only its survivor child — and that one's descendants — live on. */
  function onLiveBranch(entry: RefreshEntry, at: number): boolean {
    for (let child = entry, parent = entry.parent; parent !== null; child = parent, parent = parent.parent) {
      if (!graceOver(parent, at)) continue;
      const { children } = parent;
      const survivor = rules.siblingSurvivor === 'first' ? children[0] : children[children.length - 1];
      if (survivor !== child) return false;
    }
    return true;
  }

  function statusAt(entry: RefreshEntry, at: number): Exclude<RefreshTokenStatus, 'unknown'> {
    if (entry.chain.revoked || !onLiveBranch(entry, at)) return 'dead';
    if (entry.spentAt === null) return 'active';
    return graceOver(entry, at) ? 'dead' : 'grace';
  }

  const ledger: TokenLedger = {
    issueAccess(chain) {
      const at = now();
      const token = `${chain.kind === 'bot' ? 'xoxe.xoxb-1-' : 'xoxe.xoxp-1-'}${randomPart()}`;
      if (rules.maxActiveTokens > 0) {
        const active = chain.accessTokens.filter((entry) => !entry.revoked && at < entry.expiresAt);
        for (const oldest of active.slice(0, Math.max(0, active.length - rules.maxActiveTokens + 1))) {
          oldest.revoked = true;
        }
      }
      const entry = {
        token,
        chain,
        issuedAt: at,
        expiresAt: at + rules.accessTokenLifetimeMs,
        revoked: false,
      };
      chain.accessTokens.push(entry);
      accessTokens.set(token, entry);
      return token;
    },
    issueRefresh(chain, parent) {
      const token = `xoxe-1-${randomPart()}`;
      const entry: RefreshEntry = { token, chain, parent, spentAt: null, children: [] };
      parent?.children.push(entry);
      chain.refreshTokens.push(entry);
      refreshTokens.set(token, entry);
      return token;
    },
    access: (token) => accessTokens.get(token),
    refresh: (token) => refreshTokens.get(token),
    redeem(entry) {
      const at = now();
      const status = statusAt(entry, at);
      if (status === 'dead') return undefined;
      if (status === 'active') {
        entry.spentAt = at;
        entry.chain.rotations += 1;
      } else {
        entry.chain.forks += 1;
      }
      return {
        accessToken: ledger.issueAccess(entry.chain),
        refreshToken: ledger.issueRefresh(entry.chain, entry),
      };
    },
    refreshStatus: (entry) => statusAt(entry, now()),
    accessStatus(entry) {
      if (entry.revoked || entry.chain.revoked) return 'revoked';
      return now() >= entry.expiresAt ? 'expired' : 'active';
    },
  };
  return ledger;
}

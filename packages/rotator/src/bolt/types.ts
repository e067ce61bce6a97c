/**
 * Minimal structural types for `@slack/bolt` 5 and `@slack/oauth` 4, so that `slack-rotator/bolt`
 * builds and runs without either installed. Each is written so that Bolt's and `@slack/oauth`'s own
 * types are assignable to it (arguments) or it is assignable to theirs (results).
 */

import type { ReauthorizationRequiredError } from '../errors.js';

/**
 * Where an incoming request comes from, as Bolt passes it to `authorize` (Bolt's
 * `AuthorizeSourceData`). Org-wide installs have `isEnterpriseInstall: true`; a workspace inside an
 * Enterprise Grid has both ids and `isEnterpriseInstall: false`.
 */
export interface AuthorizeSource {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
  /** The acting user, when the request has one. */
  userId?: string | undefined;
  conversationId?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
}

/**
 * What {@link createAuthorize}'s function returns: Bolt's `AuthorizeResult`, which Bolt spreads into
 * every listener's `context`. `botScopes`, `userScopes` and `userTokenError` are extra `context`
 * fields (Bolt's type allows any): Bolt itself has no names for scopes.
 */
export type AuthorizeResult = {
  botToken?: string;
  botId?: string;
  botUserId?: string;
  /** The bot chain's scopes, e.g. `['chat:write']`. */
  botScopes?: string[];
  /** The acting user's token, when one is stored and active. */
  userToken?: string;
  userScopes?: string[];
  /**
   * Why the acting user's stored chain gave no token (it was revoked or needs re-authorization).
   * Absent when the user simply has no chain.
   */
  userTokenError?: ReauthorizationRequiredError;
  userId?: string;
  teamId?: string;
  enterpriseId?: string;
};

/** Bolt's `authorize` function. */
export type Authorize = (source: AuthorizeSource, body?: unknown) => Promise<AuthorizeResult>;

/** A workspace or an Enterprise Grid organization, as `@slack/oauth` names it. */
export interface OAuthPlace {
  id: string;
  name?: string | undefined;
}

/**
 * An installation as `@slack/oauth`'s `InstallProvider` hands it to `storeInstallation` (its
 * `Installation` type). Expiries are epoch SECONDS, as `@slack/oauth` keeps them.
 */
export interface OAuthInstallation {
  team?: OAuthPlace | null | undefined;
  enterprise?: OAuthPlace | null | undefined;
  /** The installing user; `token` is set when user scopes were granted. */
  user: {
    id: string;
    token?: string | undefined;
    refreshToken?: string | undefined;
    expiresAt?: number | undefined;
    scopes?: string[] | undefined;
  };
  bot?:
    | {
        token: string;
        refreshToken?: string | undefined;
        expiresAt?: number | undefined;
        scopes: string[];
        id: string;
        userId: string;
      }
    | undefined;
  incomingWebhook?:
    | {
        url: string;
        channel?: string | undefined;
        channelId?: string | undefined;
        configurationUrl?: string | undefined;
      }
    | undefined;
  appId?: string | undefined;
  tokenType?: 'bot' | undefined;
  enterpriseUrl?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
  authVersion?: 'v1' | 'v2' | undefined;
  metadata?: string | undefined;
}

/**
 * What {@link OAuthInstallationStore.fetchInstallation} returns: fresh access tokens, their expiries
 * in epoch seconds, and NO refresh token (see {@link createInstallationStore} for why).
 */
export interface FetchedInstallation {
  team: { id: string } | undefined;
  enterprise: { id: string } | undefined;
  user: {
    id: string;
    token: string | undefined;
    scopes: string[] | undefined;
    /** Epoch seconds. */
    expiresAt?: number;
  };
  bot?: {
    token: string;
    scopes: string[];
    /** The bot id (`B…`); empty when it was never learnt. */
    id: string;
    /** The bot's user id (`U…`); empty when it was never learnt. */
    userId: string;
    /** Epoch seconds. */
    expiresAt: number;
  };
  appId?: string;
  tokenType?: 'bot';
  isEnterpriseInstall: boolean;
  authVersion: 'v2';
}

/** What `@slack/oauth` asks an installation store for (its `InstallationQuery`). */
export interface OAuthInstallationQuery {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
  userId?: string | undefined;
  conversationId?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
}

/**
 * An `@slack/oauth` `InstallationStore` backed by a rotator. Pass it as `installationStore` to Bolt's
 * `App` (or to `InstallProvider`).
 */
export interface OAuthInstallationStore {
  /** Saves the chains of an installation straight from the OAuth flow. */
  storeInstallation(installation: OAuthInstallation, logger?: unknown): Promise<void>;
  /** Fresh tokens for the installation `query` names (the acting user's token when stored). */
  fetchInstallation(query: OAuthInstallationQuery, logger?: unknown): Promise<FetchedInstallation>;
  /** Removes every chain of the installation, or with `userId`, revokes that user's chain. */
  deleteInstallation(query: OAuthInstallationQuery, logger?: unknown): Promise<void>;
}

/** The ids Bolt puts in a listener's `context` (it fills them even for events it does not authorize). */
export interface RevocationContext {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
}

/**
 * The arguments Bolt passes to a `tokens_revoked` or `app_uninstalled` listener, as far as the
 * revocation handlers read them.
 * @see https://docs.slack.dev/reference/events/tokens_revoked
 * @see https://docs.slack.dev/reference/events/app_uninstalled
 */
export interface RevocationEventArgs {
  event: {
    type: string;
    /** `tokens_revoked` only: user ids whose user tokens (`oauth`) or bot tokens (`bot`) were revoked. */
    tokens?: { oauth?: string[] | undefined; bot?: string[] | undefined } | undefined;
  };
  context: RevocationContext;
}

/** The part of a Bolt `App` that {@link registerRevocationListeners} uses. */
export interface BoltEventRegistry {
  event(
    eventName: 'tokens_revoked' | 'app_uninstalled',
    listener: (args: RevocationEventArgs) => Promise<void>,
  ): unknown;
}

import type { ChainKeyInput, ChainKind, ChainSelector } from './chain.js';
import type { Listener, RotatorEventName } from './events.js';
import type { InstallFlow } from './install-flow.js';

/** What {@link Rotator.getTokenInfo} returns. */
export interface TokenInfo {
  token: string;
  /** When the token expires (epoch ms). */
  expiresAt: number;
  scopes: string[];
  botId: string | null;
  botUserId: string | null;
  appId: string | null;
  userId: string | null;
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  chainKey: string;
}

/** Per-call options of {@link Rotator.getToken}. */
export interface GetTokenOptions {
  /**
   * The token must stay valid at least this long (ms). Must not exceed the token lifetime minus
   * `refreshWindowMs`: more would refresh on every call, and Slack's 2-active-token limit would then
   * revoke tokens already handed out.
   */
  minValidityMs?: number;
}

/** Options of {@link Rotator.refresh}. */
export interface RefreshOptions {
  /** Refresh even when the token is not due. */
  force?: boolean;
  /** Refresh only while this is still the stored access token (after Slack answered `token_expired`). */
  ifToken?: string;
}

/** What {@link Rotator.saveInstallation} stored. */
export interface SavedInstallation {
  installationId: string;
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  appId: string | null;
  chains: { chainKey: string; kind: ChainKind; userId: string | null; expiresAt: number }[];
}

/** Options of {@link Rotator.saveInstallation}. */
export interface SaveInstallationOptions {
  /** For an `oauth.v2.exchange` answer of a user token: whose token it is. */
  userId?: string;
  /** The bot id (`B…`); `oauth.v2.access` does not return it. */
  botId?: string;
  /** When Slack answered (epoch ms); `expires_in` counts from there. Default: now. */
  issuedAt?: number;
}

/** An app configuration token pair, as the App Config page (or `tooling.tokens.rotate`) gives it. */
export interface ConfigTokenInput {
  /** The workspace of the user who created the token. */
  teamId: string;
  userId: string;
  /** The configuration access token (`xoxe.xoxp-…`). */
  token: string;
  /** The refresh token (`xoxe-…`). */
  refreshToken: string;
  /** When the token expires, in epoch seconds (Slack's `exp`). */
  exp: number;
}

/** The result of one {@link Rotator.sweep} pass. */
export interface SweepResult {
  checked: number;
  refreshed: number;
  failed: number;
}

/** Options of {@link Rotator.sweep}. */
export interface SweepOptions {
  /** Refresh chains expiring within this long (ms). Default: the refresh window plus its jitter. */
  withinMs?: number;
  /** How many refreshes run at once. Default 4. */
  concurrency?: number;
}

/** Options of {@link Rotator.startSweeper}. */
export interface SweeperOptions extends SweepOptions {
  /** Time between passes (ms), ±10 % jitter. Default 60 000. */
  intervalMs?: number;
}

/** A running sweeper. */
export interface Sweeper {
  /** Stops the loop and waits for the pass in progress. */
  stop(): Promise<void>;
}

/** Keeps the rotating tokens of one Slack app fresh. Create it with {@link createRotator}. */
export interface Rotator {
  /** The app's client id. */
  readonly clientId: string;
  /**
   * Stores the chains of an `oauth.v2.access` install answer (bot at the top level, user under
   * `authed_user`; org-wide installs keyed by enterprise id) or an `oauth.v2.exchange` answer.
   * A saved chain replaces the stored one and is `active` again.
   * @throws TypeError `ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE` for a malformed answer; nothing is stored.
   */
  saveInstallation(response: unknown, options?: SaveInstallationOptions): Promise<SavedInstallation>;
  /**
   * A valid access token for the chain `key` names, refreshed first when due.
   * @throws ReauthorizationRequiredError `installation_not_found`, `invalid_refresh_token`, `reauthorization_required`, `chain_revoked`
   * @throws RetryLaterError when a refresh is needed now and Slack is unavailable (a still-valid token is served instead)
   * @throws ConfigurationError `invalid_client`
   */
  getToken(key: ChainKeyInput, options?: GetTokenOptions): Promise<string>;
  /** Like {@link Rotator.getToken}, with the token's expiry and the chain's ids and scopes. */
  getTokenInfo(key: ChainKeyInput, options?: GetTokenOptions): Promise<TokenInfo>;
  /**
   * Calls `fn` with a fresh token. On `token_expired` (thrown, or answered as `{ ok: false }`) it
   * refreshes — only if the stored token is still the one that failed — and calls `fn` once more.
   * On `invalid_auth`, `token_revoked` or `account_inactive` it calls `fn` once more only if the
   * stored token changed meanwhile. Never more than two calls.
   */
  withToken<T>(
    key: ChainKeyInput,
    fn: (token: string) => Promise<T> | T,
    options?: GetTokenOptions,
  ): Promise<T>;
  /**
   * Stores an app configuration token pair (for `apps.manifest.*`); it is rotated with
   * `tooling.tokens.rotate` through the same single-flight, lock and compare-and-set. Chain key
   * `config:<teamId>:<userId>`.
   * @throws TypeError for a malformed pair; nothing is stored.
   */
  saveConfigToken(config: ConfigTokenInput): Promise<{ chainKey: string; expiresAt: number }>;
  /** A valid app configuration token, rotated first when due. Errors as {@link Rotator.getToken}. */
  getConfigToken(key: { teamId: string; userId: string }, options?: GetTokenOptions): Promise<string>;
  /**
   * Refreshes the chain now if due (or always, with `force`). Returns the resulting token info.
   *
   * With `ifToken` (the access token a caller saw fail with `token_expired`), it refreshes only while
   * that is still the stored token, checked again under the refresh lock — the path
   * {@link Rotator.withToken} takes. Concurrent reports of one token cause one refresh; a report of a
   * token already replaced returns the current one. Comparing first and then forcing would race and
   * rotate twice, and Slack's 2-active-token limit would then revoke a token in use.
   * @throws TypeError `ERR_INVALID_ARG_TYPE` when `ifToken` is not a non-empty string.
   */
  refresh(key: ChainKeyInput, options?: RefreshOptions): Promise<TokenInfo>;
  /**
   * Marks chains of an installation `revoked` (after `tokens_revoked` or `app_uninstalled`), keeping
   * the records: every bot and user chain, or only `chains`. No token of a revoked chain is served
   * or refreshed until the installation is saved again. Returns how many chains were marked.
   */
  markRevoked(
    installation: Omit<ChainKeyInput, 'chain'>,
    options?: { chains?: ChainSelector[]; reason?: string },
  ): Promise<number>;
  /** Removes every chain of an installation. Returns how many were removed. */
  deleteInstallation(installation: Omit<ChainKeyInput, 'chain'>): Promise<number>;
  /** One pass over the chains that expire soon, refreshing those that are due. */
  sweep(options?: SweepOptions): Promise<SweepResult>;
  /** Runs {@link Rotator.sweep} in a loop until stopped (or the rotator is closed). */
  startSweeper(options?: SweeperOptions): Sweeper;
  /**
   * The URL that starts the OAuth install flow (for apps without Bolt), with a signed `state`.
   * Needs the `stateSecret` option.
   */
  installUrl: InstallFlow['installUrl'];
  /**
   * Finishes the OAuth install flow: checks `state`, exchanges `code` at `oauth.v2.access`, looks up
   * the bot id with `auth.test`, and saves the installation.
   * @throws ReauthorizationRequiredError `invalid_state` or `install_failed`
   * @throws ConfigurationError `invalid_client`
   * @throws RetryLaterError `slack_unavailable`
   */
  completeInstall: InstallFlow['completeInstall'];
  /**
   * Turns a legacy long-lived token (`xoxb-…` / `xoxp-…`) into a rotating chain with
   * `oauth.v2.exchange` and saves it (for a user token, name its user). Slack exchanges a token once.
   * @throws ConfigurationError `invalid_client` (including `token_rotation_not_enabled`)
   * @throws ReauthorizationRequiredError `install_failed` (`token_already_exchanged`, `invalid_token`, …)
   * @throws RetryLaterError `slack_unavailable` — the exchange may have happened; see the docs
   */
  exchangeLegacyToken: InstallFlow['exchangeLegacyToken'];
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends RotatorEventName>(name: E, listener: Listener<E>): () => void;
  off<E extends RotatorEventName>(name: E, listener: Listener<E>): void;
  /**
   * Stops sweepers, waits for refreshes in flight, and aborts background reads. It does not close
   * the store or the lock (they are the caller's).
   */
  close(): Promise<void>;
}

/**
 * The contracts between the server's parts: configuration, the opened backends, the server's own
 * state (API keys, the refresh budget) and the clock. Each part codes against these, never against
 * another part's internals.
 */
import type { Lock, Rotator, TokenStore } from 'slack-rotator';

/** One Slack app the server keeps tokens for. */
export interface AppConfig {
  /** The app id (`A…`); required when several apps share a server (installation ids carry it). */
  appId: string | undefined;
  clientId: string;
  clientSecret: string;
  /** Signs the OAuth `state` of `/slack/install`; without it the install flow is off for this app. */
  stateSecret: string | undefined;
  /** Bot scopes asked for by `/slack/install`. */
  scopes: string[];
  /** User scopes asked for by `/slack/install`. */
  userScopes: string[];
  /** The `redirect_uri` registered with Slack, if any. */
  redirectUri: string | undefined;
}

/** Where the server keeps chains: the embedded SQLite file, PostgreSQL or Redis. */
export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      url: string;
      /**
       * Where the store's lock LISTENs for releases: a URL straight to PostgreSQL, for when `url`
       * goes through PgBouncer in transaction pooling mode (LISTEN needs a session). Default: `url`.
       */
      listenUrl?: string;
    }
  | { kind: 'redis'; url: string };

/** The validated configuration: file, then environment, then defaults. */
export interface ServerConfig {
  apps: AppConfig[];
  store: StoreConfig;
  /** The lock; default: the store's own (`same`). A Redis lock may pair with a PostgreSQL store. */
  lock: { kind: 'same' } | { kind: 'redis'; url: string };
  /** Keys for encryption at rest; the first is primary. `undefined`: tokens stored in clear. */
  encryption: { keys: { id: string; key: Buffer }[] } | undefined;
  listen: {
    host: string;
    port: number;
    tls: { certFile: string; keyFile: string } | undefined;
  };
  /** Slack's Web API base URL (tests point it at the fake Slack). */
  slackApiUrl: string;
  /** The library's refresh window (ms). */
  refreshWindowMs: number;
  sweeper: {
    enabled: boolean;
    intervalMs: number;
    concurrency: number;
    /** Fleet-wide `oauth.v2.access` calls per minute for sweeping. Slack allows 600; default 300. */
    budgetPerMinute: number;
  };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * TEST ONLY: a fast clock shared with the fake Slack (`SLACK_ROTATOR_TEST_CLOCK=speed@epochMs`).
   * `undefined` in production.
   */
  testClock: { speed: number; epochMs: number } | undefined;
}

/** An API key as stored: the SHA-256 digest of the secret, never the secret. */
export interface ApiKeyRecord {
  /** A short public id (`key_…`) shown in listings and logs. */
  id: string;
  name: string;
  /** Hex SHA-256 of the secret. */
  digest: string;
  /** Installation ids this key may read (as the broker spells them), or `'*'` for all. */
  installations: string[] | '*';
  createdAt: number;
  revokedAt: number | null;
}

/**
 * The server's own state, kept in the same backing system as the chains (SQLite file, PostgreSQL
 * database or Redis), so that every instance of a fleet shares it.
 */
export interface ServerState {
  /** Creates the state's tables/keys; idempotent. Run by `migrate` and by `serve` at start. */
  migrate(): Promise<void>;
  createApiKey(record: ApiKeyRecord): Promise<void>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked; `false` when there is no such (unrevoked) key. */
  revokeApiKey(id: string, at: number): Promise<boolean>;
  /** The unrevoked key with this digest, or `undefined`. */
  findApiKey(digest: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Reserves `count` consecutive slots of a fleet-wide rate limit named `name`, one slot every
   * `intervalMs`, in one atomic step (GCRA: the shared "theoretical arrival time" moves forward by
   * `count * intervalMs`, starting no earlier than `now`). Returns the instant (epoch ms, same clock
   * as `now`) at which the first reserved slot starts; slot i starts at `start + i * intervalMs`.
   */
  reserveSlots(name: string, count: number, intervalMs: number, now: number): Promise<number>;
  /** Throws when the backing system can't be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Everything `serve` and the CLI commands work with, opened from a {@link ServerConfig}. */
export interface Backends {
  config: ServerConfig;
  /** The chains (decorated with encryption when configured). Shared by every app's rotator. */
  store: TokenStore;
  lock: Lock | undefined;
  state: ServerState;
  /** One rotator per configured app, in config order. */
  apps: { config: AppConfig; rotator: Rotator }[];
  /** The clock every part uses (the test clock when configured). */
  now: () => number;
  /** Throws a `ServerError` naming what is unreachable (store, lock or state). */
  ping(): Promise<void>;
  /** Closes rotators, then the lock, the store, the state and the clients opened for them. */
  close(): Promise<void>;
}

/**
 * Every setting of the server, once: its key in the configuration file, its environment variable,
 * its default and what it does. `loadConfig` reads them; the CLI's `--help` and the docs print them.
 */

/** One setting as documented. */
export interface SettingInfo {
  /** The key in the configuration file (dotted for nested keys: `sweeper.intervalMs`). */
  name: string;
  /** The environment variable that overrides the file, if any. */
  env: string | undefined;
  /** The default, as text, or `undefined` when there is none. */
  default: string | undefined;
  description: string;
  /** A secret: never printed, logged or echoed in an error. */
  secret: boolean;
}

/** The default listen address: loopback only, so the broker is never exposed by accident. */
export const DEFAULT_LISTEN = '127.0.0.1:8787';
export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';
/** The library's default refresh window (1 h). */
export const DEFAULT_REFRESH_WINDOW_MS = 3_600_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
export const DEFAULT_SWEEP_CONCURRENCY = 8;
/** Half of what Slack allows, leaving room for refreshes on demand and for other tools. */
export const DEFAULT_BUDGET_PER_MINUTE = 300;
/** Slack allows 600 `oauth.v2.access` calls per minute per app. */
export const MAX_BUDGET_PER_MINUTE = 600;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const setting = (
  name: string,
  env: string | undefined,
  defaultValue: string | undefined,
  description: string,
  secret = false,
): SettingInfo => ({ name, env, default: defaultValue, description, secret });

/** Every setting, in the order `--help` and the docs list them. */
export const SETTINGS: readonly SettingInfo[] = [
  setting(
    'config',
    'SLACK_ROTATOR_CONFIG',
    undefined,
    'Path of a YAML or JSON configuration file (or --config).',
  ),
  setting('clientId', 'SLACK_CLIENT_ID', undefined, "The Slack app's client id."),
  setting('clientSecret', 'SLACK_CLIENT_SECRET', undefined, "The Slack app's client secret.", true),
  setting(
    'appId',
    'SLACK_APP_ID',
    undefined,
    "The Slack app's id (A…); required for each app when there are several.",
  ),
  setting(
    'stateSecret',
    'SLACK_STATE_SECRET',
    undefined,
    'Signs the OAuth state of /slack/install (at least 32 characters); without it the install flow is off.',
    true,
  ),
  setting('scopes', 'SLACK_SCOPES', '', 'Bot scopes asked for by /slack/install (comma-separated).'),
  setting(
    'userScopes',
    'SLACK_USER_SCOPES',
    '',
    'User scopes asked for by /slack/install (comma-separated).',
  ),
  setting('redirectUri', 'SLACK_REDIRECT_URI', undefined, 'The redirect_uri registered with Slack, if any.'),
  setting(
    'apps',
    undefined,
    undefined,
    'File only: several apps, each { appId, clientId, clientSecret, stateSecret, scopes, userScopes, redirectUri }.',
  ),
  setting(
    'store',
    'SLACK_ROTATOR_STORE',
    '<data folder>/slack-rotator/tokens.db',
    'Where chains are kept: postgres://…, redis://… / rediss://… (?prefix=<key prefix>, default slack-rotator), sqlite:<path> or a file path (SQLite).',
    true,
  ),
  setting(
    'storeListen',
    'SLACK_ROTATOR_STORE_LISTEN',
    'the store URL',
    'PostgreSQL only: a postgres://… URL straight to PostgreSQL where the lock LISTENs for releases, when the store URL goes through PgBouncer in transaction pooling mode (LISTEN needs a session).',
    true,
  ),
  setting(
    'lock',
    'SLACK_ROTATOR_LOCK',
    "the store's own",
    "A redis://… lock (?prefix= as for the store) to pair with a PostgreSQL store; default: the store's own lock.",
    true,
  ),
  setting(
    'encryptionKeys',
    'SLACK_ROTATOR_ENCRYPTION_KEYS',
    undefined,
    'Encrypts tokens at rest: id:base64key,id2:base64key (32-byte keys; the first is primary).',
    true,
  ),
  setting('listen', 'SLACK_ROTATOR_LISTEN', DEFAULT_LISTEN, 'host:port the broker listens on.'),
  setting(
    'tls.cert',
    'SLACK_ROTATOR_TLS_CERT',
    undefined,
    'PEM certificate file; with tls.key, serves HTTPS.',
  ),
  setting('tls.key', 'SLACK_ROTATOR_TLS_KEY', undefined, 'PEM private key file for tls.cert.'),
  setting('slackApiUrl', 'SLACK_API_URL', DEFAULT_SLACK_API_URL, "Slack's Web API base URL."),
  setting(
    'refreshWindowMs',
    'SLACK_ROTATOR_REFRESH_WINDOW_MS',
    String(DEFAULT_REFRESH_WINDOW_MS),
    'Refresh a token on demand when less than this remains (ms).',
  ),
  setting('sweeper.enabled', 'SLACK_ROTATOR_SWEEP', 'true', 'Run the sweeper inside serve (true/false).'),
  setting(
    'sweeper.intervalMs',
    'SLACK_ROTATOR_SWEEP_INTERVAL_MS',
    String(DEFAULT_SWEEP_INTERVAL_MS),
    'How often the sweeper looks for chains to refresh (ms).',
  ),
  setting(
    'sweeper.concurrency',
    'SLACK_ROTATOR_SWEEP_CONCURRENCY',
    String(DEFAULT_SWEEP_CONCURRENCY),
    'Refreshes the sweeper runs at once in this process.',
  ),
  setting(
    'sweeper.budgetPerMinute',
    'SLACK_ROTATOR_BUDGET_PER_MINUTE',
    String(DEFAULT_BUDGET_PER_MINUTE),
    `Fleet-wide oauth.v2.access calls per minute for sweeping, shared by every instance (at most ${MAX_BUDGET_PER_MINUTE}).`,
  ),
  setting('logLevel', 'SLACK_ROTATOR_LOG_LEVEL', 'info', `Log level: ${LOG_LEVELS.join(', ')}.`),
  setting(
    'testClock',
    'SLACK_ROTATOR_TEST_CLOCK',
    undefined,
    'TEST ONLY: <speed>@<epochMs>, a fast clock shared with a fake Slack. Never set it in production.',
  ),
];

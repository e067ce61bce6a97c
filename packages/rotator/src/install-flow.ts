import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  ConfigurationError,
  invalidArgument,
  ReauthorizationRequiredError,
  RetryLaterError,
  type RotatorError,
} from './errors.js';
import type { Logger } from './logger.js';
import type { SavedInstallation, SaveInstallationOptions } from './rotator.js';
import { CONFIGURATION_ERRORS } from './slack/outcome.js';
import type { ClientCredentials, RawResult, Transport } from './slack/transport.js';

/** Options of {@link InstallFlow.installUrl}. */
export interface InstallUrlOptions {
  /** Bot scopes to request. */
  scopes: string[];
  /** User scopes to request (for user tokens). */
  userScopes?: string[];
  /** Must match a redirect URL of the app. */
  redirectUri?: string;
  /** Pre-selects a workspace. */
  teamId?: string;
  /** Default `https://slack.com/oauth/v2/authorize`. */
  authorizeUrl?: string;
}

/** What Slack sent to the redirect URL. */
export interface CompleteInstallParams {
  code: string;
  state: string;
  /** The same redirect URL that {@link InstallFlow.installUrl} was given, if any. */
  redirectUri?: string;
}

/** The OAuth install flow for apps without Bolt: a signed `state`, then the `code` grant. */
export interface InstallFlow {
  /** A new single-purpose `state`: signed with `stateSecret`, valid for 10 minutes. */
  createState(): string;
  /** The URL to send the installing user to, and the state it carries. */
  installUrl(options: InstallUrlOptions): { url: string; state: string };
  /**
   * Checks `state`, exchanges `code` at `oauth.v2.access`, looks up the bot id with `auth.test`,
   * and saves the installation.
   * @throws ReauthorizationRequiredError `invalid_state` (start the install again) or `install_failed`
   * @throws ConfigurationError `invalid_client`
   * @throws RetryLaterError `slack_unavailable`
   */
  completeInstall(params: CompleteInstallParams): Promise<SavedInstallation>;
  /**
   * Turns a legacy long-lived token (`xoxb-…` / `xoxp-…`) into a rotating chain with
   * `oauth.v2.exchange`, and saves it. Slack exchanges a token once.
   */
  exchangeLegacyToken(
    token: string,
    options?: { userId?: string; botId?: string },
  ): Promise<SavedInstallation>;
}

const STATE_MAX_AGE_MS = 10 * 60_000;

export function createInstallFlow(deps: {
  clientId: string;
  clientSecret: string;
  stateSecret: string | undefined;
  transport: Transport;
  credentials: ClientCredentials;
  now: () => number;
  logger: Logger;
  saveInstallation: (response: unknown, options?: SaveInstallationOptions) => Promise<SavedInstallation>;
}): InstallFlow {
  function secret(): string {
    if (deps.stateSecret === undefined) {
      throw invalidArgument('the install flow needs the stateSecret option of createRotator');
    }
    return deps.stateSecret;
  }

  const sign = (payload: string) => createHmac('sha256', secret()).update(payload).digest('base64url');

  function createState(): string {
    const payload = `${deps.now().toString(36)}.${randomBytes(16).toString('base64url')}`;
    return `${payload}.${sign(payload)}`;
  }

  function checkState(state: unknown): void {
    const invalid = (why: string) =>
      new ReauthorizationRequiredError(
        'invalid_state',
        `[slack-rotator] install state ${why}; start the install again`,
      );
    if (typeof state !== 'string') throw invalid('is missing');
    const parts = state.split('.');
    if (parts.length !== 3) throw invalid('is malformed');
    const [issued, nonce, mac] = parts as [string, string, string];
    const expected = Buffer.from(sign(`${issued}.${nonce}`));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw invalid('has a bad signature');
    const age = deps.now() - Number.parseInt(issued, 36);
    if (!(age >= 0 && age <= STATE_MAX_AGE_MS)) throw invalid('has expired');
  }

  function installUrl(options: InstallUrlOptions) {
    if (typeof options !== 'object' || options === null || !Array.isArray(options.scopes)) {
      throw invalidArgument('installUrl needs { scopes: string[] }', 'ERR_INVALID_ARG_TYPE');
    }
    const state = createState();
    const url = new URL(options.authorizeUrl ?? 'https://slack.com/oauth/v2/authorize');
    url.searchParams.set('client_id', deps.clientId);
    url.searchParams.set('scope', options.scopes.join(','));
    if (options.userScopes !== undefined) url.searchParams.set('user_scope', options.userScopes.join(','));
    if (options.redirectUri !== undefined) url.searchParams.set('redirect_uri', options.redirectUri);
    if (options.teamId !== undefined) url.searchParams.set('team', options.teamId);
    url.searchParams.set('state', state);
    return { url: url.href, state };
  }

  function unavailable(raw: RawResult): RetryLaterError {
    return new RetryLaterError(
      'slack_unavailable',
      `[slack-rotator] Slack did not answer the install (${raw.kind})`,
      {
        ...(raw.kind === 'network' ? { cause: raw.cause } : {}),
        ...('status' in raw ? { status: raw.status } : {}),
      },
    );
  }

  /** The error for an `ok: false` answer to the install or exchange. */
  function refusal(body: Record<string, unknown>, status: number, what: string): RotatorError {
    const slackError = typeof body.error === 'string' ? body.error : 'unknown_error';
    const details = { slackError, status };
    return CONFIGURATION_ERRORS.has(slackError)
      ? new ConfigurationError(
          'invalid_client',
          `[slack-rotator] Slack refused the ${what} (${slackError}); check the app's settings`,
          details,
        )
      : new ReauthorizationRequiredError(
          'install_failed',
          `[slack-rotator] Slack refused the ${what} (${slackError})`,
          details,
        );
  }

  async function completeInstall(params: CompleteInstallParams): Promise<SavedInstallation> {
    if (
      typeof params !== 'object' ||
      params === null ||
      typeof params.code !== 'string' ||
      params.code === ''
    ) {
      throw invalidArgument('completeInstall needs { code, state }', 'ERR_INVALID_ARG_TYPE');
    }
    checkState(params.state);
    const form: Record<string, string> = { grant_type: 'authorization_code', code: params.code };
    if (params.redirectUri !== undefined) form.redirect_uri = params.redirectUri;
    const issuedAt = deps.now();
    const raw = await deps.transport.send('oauth.v2.access', form, deps.credentials);
    if (raw.kind !== 'json' || raw.status >= 500 || raw.status === 429) throw unavailable(raw);
    const body = raw.body;
    if (body.ok !== true) throw refusal(body, raw.status, 'install');
    let botId: string | undefined;
    if (typeof body.access_token === 'string') {
      const test = await deps.transport.send('auth.test', {}, { bearer: body.access_token });
      if (test.kind === 'json' && test.body.ok === true && typeof test.body.bot_id === 'string') {
        botId = test.body.bot_id;
      } else {
        deps.logger.warn(
          { method: 'auth.test' },
          'slack-rotator could not look up the bot id; saving without it',
        );
      }
    }
    return deps.saveInstallation(body, { issuedAt, ...(botId === undefined ? {} : { botId }) });
  }

  async function exchangeLegacyToken(
    token: string,
    options: { userId?: string; botId?: string } = {},
  ): Promise<SavedInstallation> {
    if (typeof token !== 'string' || !/^xox[bp]-/.test(token)) {
      throw invalidArgument(
        'exchangeLegacyToken needs a legacy xoxb- or xoxp- token',
        'ERR_INVALID_ARG_VALUE',
      );
    }
    const issuedAt = deps.now();
    const first = await deps.transport.send('oauth.v2.exchange', { token }, deps.credentials);
    // A slow answer is still Slack's answer: wait for it rather than call the exchange lost.
    const raw = first.kind === 'timeout' ? await first.late : first;
    if (raw.kind === 'json' && (raw.status === 429 || raw.body.error === 'ratelimited')) {
      // Nothing was exchanged: safe to try again after Retry-After.
      throw new RetryLaterError('rate_limited', '[slack-rotator] Slack rate-limited the exchange', {
        slackError: 'ratelimited',
        status: raw.status,
        retryAt: deps.now() + (raw.retryAfterMs ?? 60_000),
      });
    }
    if (raw.kind !== 'json' || raw.status >= 500) {
      // Slack may have exchanged the token and the answer was lost: trying again would get
      // token_already_exchanged, and the installation would need to be authorized again.
      throw unavailable(raw);
    }
    const body = raw.body;
    if (body.ok !== true) throw refusal(body, raw.status, 'exchange');
    return deps.saveInstallation(body, {
      issuedAt,
      ...(options.userId === undefined ? {} : { userId: options.userId }),
      ...(options.botId === undefined ? {} : { botId: options.botId }),
    });
  }

  return { createState, installUrl, completeInstall, exchangeLegacyToken };
}

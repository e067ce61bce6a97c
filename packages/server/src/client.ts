/**
 * A small Node client for the broker.
 *
 * @example
 * ```ts
 * const broker = createBrokerClient({ url: 'http://127.0.0.1:8787', apiKey: process.env.BROKER_KEY! });
 * const { token } = await broker.getToken('T0123', { minValiditySeconds: 300 });
 * // … Slack answered token_expired for `token`:
 * const fresh = await broker.tokenExpired('T0123', token);
 * ```
 */
import type { TokenAnswer } from './http/schemas.js';

/** A token answer of the broker. */
export interface BrokerToken {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  /** Whole seconds left when the broker answered. */
  expiresIn: number;
  installationId: string;
  chain: string;
  botId: string | null;
  botUserId: string | null;
  userId: string | null;
  scopes: string[];
}

/** A failure the broker answered (its `error.code` and HTTP status), or `network_error`. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  /** The broker's error code (`unauthorized`, `forbidden`, `min_validity_too_large`, …) or `network_error`. */
  readonly code: string;
  /** The HTTP status, 0 when no answer came. */
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }
}

/** True for a {@link BrokerError}, also across duplicate installs of this package. */
export function isBrokerError(value: unknown): value is BrokerError {
  return (
    value instanceof Error && value.name === 'BrokerError' && typeof (value as BrokerError).code === 'string'
  );
}

/** Options of {@link createBrokerClient}. */
export interface BrokerClientOptions {
  /** The broker's base URL (`http://127.0.0.1:8787`). */
  url: string;
  /** The API key secret (`srk_…`). */
  apiKey: string;
  fetch?: typeof globalThis.fetch;
  /** Per request (ms). Default 10 000. */
  timeoutMs?: number;
}

/** Per-call options: the chain (`bot` or `user:U…`, default `bot`). */
export interface ChainOption {
  chain?: string;
}

export interface BrokerClient {
  /**
   * A valid token for an installation (`T…`, `E…` or `A…:T…`).
   * @throws BrokerError with the broker's code
   */
  getToken(
    installationId: string,
    options?: ChainOption & { minValiditySeconds?: number },
  ): Promise<BrokerToken>;
  /**
   * Reports that Slack answered `token_expired` for `token`; returns a fresh token (the broker
   * refreshes only if `token` is still the stored one).
   * @throws BrokerError with the broker's code
   */
  tokenExpired(installationId: string, token: string, options?: ChainOption): Promise<BrokerToken>;
}

function tokenOf(raw: TokenAnswer): BrokerToken {
  return {
    token: raw.token,
    expiresAt: raw.expires_at,
    expiresIn: raw.expires_in,
    installationId: raw.installation_id,
    chain: raw.chain,
    botId: raw.bot_id,
    botUserId: raw.bot_user_id,
    userId: raw.user_id,
    scopes: raw.scopes,
  };
}

/**
 * Creates a broker client.
 * @throws TypeError `ERR_INVALID_ARG_VALUE` for a missing URL or API key.
 */
export function createBrokerClient(options: BrokerClientOptions): BrokerClient {
  if (typeof options?.url !== 'string' || !/^https?:\/\//.test(options.url)) {
    throw Object.assign(new TypeError('[slack-rotator] url must be the broker’s http(s) base URL'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  if (typeof options.apiKey !== 'string' || !options.apiKey.startsWith('srk_')) {
    throw Object.assign(new TypeError('[slack-rotator] apiKey must be a broker API key (srk_…)'), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const base = options.url.replace(/\/+$/, '');
  const fetchFn = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const headers = { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' };

  async function call(path: string, init: RequestInit): Promise<BrokerToken> {
    let response: Response;
    try {
      response = await fetchFn(`${base}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers as Record<string, string> | undefined) },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new BrokerError('network_error', 0, `the broker could not be reached at ${base}`, {
        cause: error,
      });
    }
    const body = (await response.json().catch(() => undefined)) as
      | TokenAnswer
      | { error?: { code?: string; message?: string } }
      | undefined;
    if (response.ok && body !== undefined && 'token' in body) return tokenOf(body);
    const error = body !== undefined && 'error' in body ? body.error : undefined;
    throw new BrokerError(
      error?.code ?? 'invalid_response',
      response.status,
      error?.message ?? `the broker answered HTTP ${response.status}`,
    );
  }

  return {
    getToken(installationId, callOptions = {}) {
      const query = new URLSearchParams();
      if (callOptions.chain !== undefined) query.set('chain', callOptions.chain);
      if (callOptions.minValiditySeconds !== undefined) {
        query.set('min_validity', String(callOptions.minValiditySeconds));
      }
      const search = query.size === 0 ? '' : `?${query}`;
      return call(`/v1/installations/${encodeURIComponent(installationId)}/token${search}`, {
        method: 'GET',
      });
    },
    tokenExpired(installationId, token, callOptions = {}) {
      return call(`/v1/installations/${encodeURIComponent(installationId)}/token/expired`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token,
          ...(callOptions.chain === undefined ? {} : { chain: callOptions.chain }),
        }),
      });
    },
  };
}

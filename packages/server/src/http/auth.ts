/**
 * API key authentication and authorization. A key is looked up by its digest in the server state;
 * found keys are cached in the process for a few seconds so that a warm token request does no state
 * round trip — which also means a revoked key keeps working on an instance for at most that long.
 */
import { API_KEY_PATTERN, digestApiKey, digestsEqual } from '../api-keys.js';
import { ServerError } from '../errors.js';
import type { ApiKeyRecord, ServerState } from '../types.js';

/** How long a found key is trusted without asking the state again (ms). Revocation delay, at most. */
export const DEFAULT_API_KEY_CACHE_MS = 5_000;

const MAX_CACHED_KEYS = 10_000;

/** Authenticates `Authorization` headers and checks what a key may read. */
export interface Authenticator {
  /**
   * The key an `Authorization: Bearer srk_…` header carries.
   * @throws ServerError `unauthorized` (missing, malformed, unknown or revoked key), `backend_unavailable`
   */
  authenticate(header: string | undefined): Promise<ApiKeyRecord>;
  /** @throws ServerError `forbidden` — the same for an installation that exists and one that does not. */
  authorize(key: ApiKeyRecord, installationId: string): void;
  /** @throws ServerError `forbidden` unless the key may read every installation (`'*'`). */
  authorizeAll(key: ApiKeyRecord): void;
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  state: ServerState;
  /** Default {@link DEFAULT_API_KEY_CACHE_MS}; 0 disables the cache. */
  cacheMs?: number;
  /** A monotonic clock for cache expiry (ms). Default `performance.now`. */
  clock?: () => number;
}

const unauthorized = (message: string) => new ServerError('unauthorized', message);
const forbidden = () => new ServerError('forbidden', 'this API key may not access this installation');

/** Creates the broker's authenticator over the server state. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { state } = options;
  const cacheMs = options.cacheMs ?? DEFAULT_API_KEY_CACHE_MS;
  const clock = options.clock ?? (() => performance.now());
  const cache = new Map<string, { key: ApiKeyRecord; until: number }>();

  async function lookup(digest: string): Promise<ApiKeyRecord | undefined> {
    const cached = cache.get(digest);
    if (cached !== undefined) {
      if (clock() < cached.until) return cached.key;
      cache.delete(digest);
    }
    let key: ApiKeyRecord | undefined;
    try {
      key = await state.findApiKey(digest);
    } catch (error) {
      throw new ServerError(
        'backend_unavailable',
        'the server state cannot be reached to check the API key',
        {
          cause: error,
        },
      );
    }
    if (key === undefined || key.revokedAt !== null) return undefined;
    if (cacheMs > 0) {
      if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value as string);
      cache.set(digest, { key, until: clock() + cacheMs });
    }
    return key;
  }

  return {
    async authenticate(header) {
      if (header === undefined || header === '') {
        throw unauthorized('an API key is required: Authorization: Bearer srk_…');
      }
      const match = /^Bearer +(\S+) *$/i.exec(header);
      const secret = match?.[1];
      if (secret === undefined || !API_KEY_PATTERN.test(secret)) {
        throw unauthorized('the Authorization header must be "Bearer srk_…" with a broker API key');
      }
      const digest = digestApiKey(secret);
      const key = await lookup(digest);
      if (key === undefined || !digestsEqual(key.digest, digest)) {
        throw unauthorized('unknown or revoked API key');
      }
      return key;
    },
    authorize(key, installationId) {
      if (key.installations === '*') return;
      if (!key.installations.includes(installationId)) throw forbidden();
    },
    authorizeAll(key) {
      if (key.installations !== '*') {
        throw new ServerError('forbidden', 'this API key may not register or delete installations');
      }
    },
  };
}

/**
 * The textbook rotation code the `--naive` demo runs in every client, for comparison only.
 */
import type { TokenStore } from 'slack-rotator';

/** Options of {@link createNaiveTokens}. */
export interface NaiveOptions {
  store: TokenStore;
  slackApiUrl: string;
  clientId: string;
  clientSecret: string;
  refreshWindowMs: number;
  onRefreshed: () => void;
  onRefreshFailed: (code: string) => void;
}

/** Token access the way apps commonly write it. */
export interface NaiveTokens {
  /** The stored access token, refreshed first if it is near expiry. */
  getToken(chainKey: string): Promise<string>;
}

interface RefreshAnswer {
  ok?: unknown;
  error?: unknown;
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
}

/**
 * The textbook rotation code, for comparison only: read the record; if it is near expiry, call
 * `oauth.v2.access` with `grant_type=refresh_token`; write the whole record back. No lock, no
 * single-flight, no compare-and-set — so concurrent callers exchange the same refresh token, and
 * the last write wins whether or not its pair is the one Slack keeps.
 */
export function createNaiveTokens(options: NaiveOptions): NaiveTokens {
  const { store, slackApiUrl, clientId, clientSecret, refreshWindowMs } = options;
  return {
    async getToken(chainKey) {
      const record = await store.get(chainKey);
      if (record === undefined) throw new Error(`no installation for ${chainKey}`);
      if (record.expiresAt - Date.now() >= refreshWindowMs) return record.accessToken;
      const response = await fetch(`${slackApiUrl}oauth.v2.access`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: record.refreshToken,
          client_id: clientId,
          client_secret: clientSecret,
        }),
      });
      const answer = (await response.json()) as RefreshAnswer;
      if (
        answer.ok !== true ||
        typeof answer.access_token !== 'string' ||
        typeof answer.refresh_token !== 'string' ||
        typeof answer.expires_in !== 'number'
      ) {
        // The common pattern: log it and carry on with the token we have.
        options.onRefreshFailed(typeof answer.error === 'string' ? answer.error : `http_${response.status}`);
        return record.accessToken;
      }
      const at = Date.now();
      const { version: _version, ...rest } = record;
      await store.put({
        ...rest,
        accessToken: answer.access_token,
        refreshToken: answer.refresh_token,
        expiresAt: at + answer.expires_in * 1000,
        refreshedAt: at,
        updatedAt: at,
      });
      options.onRefreshed();
      return answer.access_token;
    },
  };
}

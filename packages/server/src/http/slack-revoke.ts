/**
 * `auth.revoke` for one access token (https://api.slack.com/methods/auth.revoke): the token goes in
 * the `Authorization: Bearer` header, never in a URL or a log line.
 */

/** The outcome of revoking one token. */
export type RevokeOutcome = 'revoked' | 'already_invalid' | { failed: string };

/** Slack answers that mean the token no longer works: nothing is left to revoke. */
const DEAD = new Set(['token_revoked', 'invalid_auth', 'account_inactive', 'token_expired', 'not_authed']);

/** Calls `auth.revoke` with `token`; never throws (a failure is returned, without token material). */
export async function revokeAtSlack(options: {
  slackApiUrl: string;
  token: string;
  fetch: typeof globalThis.fetch;
  timeoutMs?: number;
}): Promise<RevokeOutcome> {
  let response: Response;
  try {
    response = await options.fetch(new URL('auth.revoke', options.slackApiUrl), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${options.token}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: '',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    return { failed: (error as Error)?.name === 'TimeoutError' ? 'timeout' : 'network_error' };
  }
  if (response.status === 429) return { failed: 'rate_limited' };
  if (response.status >= 500) return { failed: `http_${response.status}` };
  let body: { ok?: unknown; error?: unknown };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    return { failed: 'invalid_response' };
  }
  if (body.ok === true) return 'revoked';
  const error = typeof body.error === 'string' ? body.error : 'unknown_error';
  return DEAD.has(error) ? 'already_invalid' : { failed: error };
}

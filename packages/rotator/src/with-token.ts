/** Slack errors after which `withToken` refreshes (if still the stored token) and retries once. */
export const EXPIRED_ERRORS: ReadonlySet<string> = new Set(['token_expired']);

/** Slack errors after which `withToken` re-reads and retries once only if the stored token changed. */
export const REREAD_ERRORS: ReadonlySet<string> = new Set([
  'invalid_auth',
  'token_revoked',
  'account_inactive',
]);

function errorField(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { ok, error } = value as { ok?: unknown; error?: unknown };
  return ok === false && typeof error === 'string' ? error : undefined;
}

/**
 * The Slack error code carried by a value a callback returned or threw: a Slack answer
 * (`{ ok: false, error }`), a `@slack/web-api` platform error (`data: { ok: false, error }`), or any
 * error with `data.error`.
 */
export function slackErrorOf(value: unknown): string | undefined {
  const direct = errorField(value);
  if (direct !== undefined) return direct;
  if (typeof value !== 'object' || value === null) return undefined;
  const data = (value as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return undefined;
  const error = (data as { error?: unknown }).error;
  return typeof error === 'string' ? error : undefined;
}

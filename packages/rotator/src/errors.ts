/**
 * Every failure at run time is a {@link RotatorError}. Subclasses say what the caller does next:
 *
 * | class                          | the caller…                                   |
 * | ------------------------------ | --------------------------------------------- |
 * | {@link ReauthorizationRequiredError} | sends the workspace through the install flow again |
 * | {@link RetryLaterError}        | tries again later (nothing is lost)           |
 * | {@link ConfigurationError}     | fixes the app's client id / secret / settings |
 * | {@link StorageError}           | checks the token store                        |
 * | {@link LockTimeoutError}       | tries again later; another holder is slow     |
 *
 * Messages never contain a token or a secret. Slack's own `error` string and the HTTP status are
 * kept as fields.
 */

/** Every code a {@link RotatorError} can carry. */
export type RotatorErrorCode =
  // re-authorization required
  | 'installation_not_found'
  | 'reauthorization_required'
  | 'invalid_refresh_token'
  | 'lost_rotation'
  | 'chain_revoked'
  // retry later
  | 'slack_unavailable'
  | 'rate_limited'
  | 'unexpected_response'
  | 'lease_lost'
  // configuration
  | 'invalid_client'
  | 'install_failed'
  | 'invalid_state'
  // storage
  | 'store_failed'
  | 'record_invalid'
  | 'decryption_failed'
  | 'key_not_found'
  // lock
  | 'lock_timeout'
  // the rotator was closed
  | 'closed';

/** The codes as constants, for `switch` statements and comparisons. */
export const ErrorCodes = {
  INSTALLATION_NOT_FOUND: 'installation_not_found',
  REAUTHORIZATION_REQUIRED: 'reauthorization_required',
  INVALID_REFRESH_TOKEN: 'invalid_refresh_token',
  LOST_ROTATION: 'lost_rotation',
  CHAIN_REVOKED: 'chain_revoked',
  SLACK_UNAVAILABLE: 'slack_unavailable',
  RATE_LIMITED: 'rate_limited',
  UNEXPECTED_RESPONSE: 'unexpected_response',
  LEASE_LOST: 'lease_lost',
  INVALID_CLIENT: 'invalid_client',
  INSTALL_FAILED: 'install_failed',
  INVALID_STATE: 'invalid_state',
  STORE_FAILED: 'store_failed',
  RECORD_INVALID: 'record_invalid',
  DECRYPTION_FAILED: 'decryption_failed',
  KEY_NOT_FOUND: 'key_not_found',
  LOCK_TIMEOUT: 'lock_timeout',
  CLOSED: 'closed',
} as const satisfies Record<string, RotatorErrorCode>;

const BRAND = Symbol.for('slack-rotator.RotatorError');

/** Details a {@link RotatorError} may carry. None of them is secret. */
export interface RotatorErrorDetails {
  /** The chain the failure is about, e.g. `A123:T456:bot`. */
  chainKey?: string;
  /** Slack's `error` string, when Slack answered `ok: false`. */
  slackError?: string;
  /** The HTTP status of Slack's answer, when there was one. */
  status?: number;
  /** For {@link RetryLaterError}: when trying again makes sense (epoch ms). */
  retryAt?: number;
  cause?: unknown;
}

/** The base class of every run-time failure. Use {@link isRotatorError} across duplicate installs. */
export class RotatorError extends Error {
  override name = 'RotatorError';
  readonly code: RotatorErrorCode;
  readonly chainKey: string | undefined;
  readonly slackError: string | undefined;
  readonly status: number | undefined;

  constructor(code: RotatorErrorCode, message: string, details: RotatorErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.chainKey = details.chainKey;
    this.slackError = details.slackError;
    this.status = details.status;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** The chain is dead or gone: the workspace must install the app again. */
export class ReauthorizationRequiredError extends RotatorError {
  override name = 'ReauthorizationRequiredError';
}

/** A transient failure (Slack unavailable, rate limited, odd answer). Nothing stored was lost. */
export class RetryLaterError extends RotatorError {
  override name = 'RetryLaterError';
  /** When trying again makes sense (epoch ms), if known. */
  readonly retryAt: number | undefined;
  constructor(code: RotatorErrorCode, message: string, details: RotatorErrorDetails = {}) {
    super(code, message, details);
    this.retryAt = details.retryAt;
  }
}

/** Slack refused the app's credentials or settings; nothing was marked. */
export class ConfigurationError extends RotatorError {
  override name = 'ConfigurationError';
}

/** The token store failed or returned a record that breaks its contract. */
export class StorageError extends RotatorError {
  override name = 'StorageError';
}

/** A lock could not be acquired within its wait time. */
export class LockTimeoutError extends RotatorError {
  override name = 'LockTimeoutError';
}

/** True for any {@link RotatorError}, even one thrown by another copy of this package. */
export function isRotatorError(value: unknown): value is RotatorError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** True when the error says the workspace must install the app again. */
export function isReauthorizationRequired(value: unknown): value is ReauthorizationRequiredError {
  return isRotatorError(value) && value.name === 'ReauthorizationRequiredError';
}

/** True when the failure is transient and a later attempt may succeed. */
export function isRetryable(value: unknown): value is RetryLaterError | LockTimeoutError {
  return isRotatorError(value) && (value.name === 'RetryLaterError' || value.name === 'LockTimeoutError');
}

/** Builds the `TypeError` that invalid arguments get (Node-style `code`, message prefixed). */
export function invalidArgument(
  message: string,
  code: 'ERR_INVALID_ARG_VALUE' | 'ERR_INVALID_ARG_TYPE' = 'ERR_INVALID_ARG_VALUE',
): TypeError {
  const error = new TypeError(`[slack-rotator] ${message}`);
  (error as TypeError & { code: string }).code = code;
  return error;
}

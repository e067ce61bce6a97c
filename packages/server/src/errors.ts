/**
 * One error class for the server's own failures, with a code the HTTP API answers in JSON and the
 * CLI prints on one line. Failures of the library stay `RotatorError`s; `toServerError` maps them.
 */
import { isRotatorError } from 'slack-rotator';

export type ServerErrorCode =
  | 'invalid_config'
  | 'invalid_request'
  | 'invalid_installation_id'
  | 'unknown_app'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'min_validity_too_large'
  | 'backend_unavailable'
  | 'slack_unavailable'
  | 'reauthorization_required'
  | 'configuration_error'
  | 'internal_error';

/** HTTP status per code (the CLI uses {@link exitCodeOf}). */
export const STATUS_OF: Record<ServerErrorCode, number> = {
  invalid_config: 500,
  invalid_request: 400,
  invalid_installation_id: 400,
  unknown_app: 404,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  min_validity_too_large: 400,
  backend_unavailable: 503,
  slack_unavailable: 503,
  reauthorization_required: 409,
  configuration_error: 500,
  internal_error: 500,
};

export class ServerError extends Error {
  override readonly name = 'ServerError';
  readonly code: ServerErrorCode;
  readonly status: number;
  /** Extra, token-free facts for the JSON body (e.g. the rotator's error code). */
  readonly details: Record<string, unknown>;
  constructor(
    code: ServerErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = STATUS_OF[code];
    this.details = options.details ?? {};
  }
}

/** Maps any failure to a `ServerError` (library errors by their class; unknown ones as internal). */
export function toServerError(error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  if (isRotatorError(error)) {
    const details = { rotatorCode: error.code };
    switch (error.name) {
      case 'ReauthorizationRequiredError':
        return new ServerError(
          error.code === 'installation_not_found' ? 'not_found' : 'reauthorization_required',
          error.message,
          { cause: error, details },
        );
      case 'RetryLaterError':
        return new ServerError('slack_unavailable', error.message, { cause: error, details });
      case 'ConfigurationError':
        return new ServerError('configuration_error', error.message, { cause: error, details });
      case 'StorageError':
      case 'LockTimeoutError':
        return new ServerError('backend_unavailable', error.message, { cause: error, details });
    }
  }
  return new ServerError('internal_error', 'internal error', { cause: error });
}

/** Documented CLI exit codes. */
export const EXIT = {
  ok: 0,
  /** A command ran and found problems (e.g. `doctor` failed checks, `sweep` had failures). */
  failed: 1,
  /** Bad command line or configuration. */
  usage: 2,
  /** The store, lock or Slack could not be reached. */
  unavailable: 3,
  /** Nothing matched (unknown installation or key). */
  notFound: 4,
} as const;

export function exitCodeOf(error: ServerError): number {
  switch (error.code) {
    case 'invalid_config':
    case 'invalid_request':
    case 'invalid_installation_id':
    case 'min_validity_too_large':
    case 'configuration_error':
      return EXIT.usage;
    case 'backend_unavailable':
    case 'slack_unavailable':
      return EXIT.unavailable;
    case 'not_found':
    case 'unknown_app':
      return EXIT.notFound;
    default:
      return EXIT.failed;
  }
}

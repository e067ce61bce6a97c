/**
 * The server's logger: pino, JSON lines to stderr (stdout stays free for command output), with
 * every token-ish field redacted so that a mistake in a log call cannot leak a token or secret.
 */
import { type DestinationStream, destination, type Logger, pino } from 'pino';
import type { ServerConfig } from './types.js';

export type { Logger } from 'pino';

/** Field names whose values are always replaced by `[Redacted]`, at any of the first three levels. */
export const REDACTED_FIELDS = [
  'token',
  'accessToken',
  'refreshToken',
  'access_token',
  'refresh_token',
  'fallbackRefreshToken',
  'clientSecret',
  'client_secret',
  'stateSecret',
  'authorization',
  'Authorization',
  'apiKey',
  'api_key',
  'key',
  'secret',
  'password',
] as const;

/** pino's redact paths: each field at the top, one and two levels down (pino has no `**`). */
export const REDACT_PATHS: string[] = REDACTED_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
]);

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Where lines go. Default: stderr (fd 2). Tests pass a stream to read them. */
  destination?: DestinationStream;
  /** Fields added to every line (e.g. `{ component: 'sweeper' }`). */
  base?: Record<string, unknown>;
}

/**
 * Creates the server's logger at `config.logLevel`.
 *
 * @example
 * const logger = createLogger(config);
 * logger.info({ installationId }, 'refreshed');
 */
export function createLogger(
  config: Pick<ServerConfig, 'logLevel'>,
  options: CreateLoggerOptions = {},
): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { pid: process.pid, ...options.base },
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      // The library's errors carry Slack's error string and codes; pino's err serializer keeps them.
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    },
    options.destination ?? destination({ fd: 2, sync: true }),
  );
}

/**
 * `slack-rotator-server`: the service around the `slack-rotator` library — configuration, the
 * opened backends, the HTTP token broker, the sweeper and metrics — for embedding or for the
 * `slack-rotator` CLI.
 *
 * @module
 */
export { createClock } from './clock.js';
export type { ServerErrorCode } from './errors.js';
export { EXIT, ServerError, toServerError } from './errors.js';
export type { ParsedInstallationId } from './installation-id.js';
export { formatInstallationId, parseInstallationId } from './installation-id.js';
export type { ApiKeyRecord, AppConfig, Backends, ServerConfig, ServerState, StoreConfig } from './types.js';

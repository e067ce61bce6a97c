/**
 * `slack-rotator-server`: the service around the `slack-rotator` library — configuration, the
 * opened backends, the HTTP token broker, the sweeper and metrics — for embedding or for the
 * `slack-rotator` CLI.
 *
 * @module
 */
export { digestApiKey, generateApiKey, generateApiKeyId } from './api-keys.js';
export type {
  BrokerClient,
  BrokerClientOptions,
  BrokerToken,
  ChainOption,
} from './client.js';
export { BrokerError, createBrokerClient, isBrokerError } from './client.js';
export { createClock } from './clock.js';
export type { ServerErrorCode } from './errors.js';
export { EXIT, ServerError, toServerError } from './errors.js';
export type { Broker, BrokerOptions } from './http/broker.js';
export { buildBroker } from './http/broker.js';
export type { ParsedInstallationId } from './installation-id.js';
export { formatInstallationId, parseInstallationId } from './installation-id.js';
export type { RunningServer, ServeOptions } from './serve.js';
export { runServe, startServer } from './serve.js';
export type { ApiKeyRecord, AppConfig, Backends, ServerConfig, ServerState, StoreConfig } from './types.js';

/**
 * The broker's Fastify app: routes, API key authentication under `/v1`, JSON errors everywhere, and
 * request logs without query strings or headers. {@link buildBroker} does not listen; `serve` does.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ServerError } from '../errors.js';
import type { Backends } from '../types.js';
import { createAuthenticator, DEFAULT_API_KEY_CACHE_MS } from './auth.js';
import type { BrokerContext } from './context.js';
import { errorHandler, notFoundHandler, sendError } from './error-handler.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerInstallationRoutes } from './installation-routes.js';
import { registerOAuthRoutes } from './oauth-routes.js';
import { BrokerLogController, requestSerializers } from './request-log.js';
import { registerTokenRoutes } from './token-routes.js';

/** Options of {@link buildBroker}. */
export interface BrokerOptions {
  backends: Backends;
  logger: FastifyBaseLogger;
  /** How long a found API key is trusted without asking the state (ms). Default 5 000. */
  apiKeyCacheMs?: number;
  /** Largest accepted request body (bytes). Default 64 KiB. */
  bodyLimit?: number;
  /** For `auth.revoke`. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/** A built broker, and the switch `serve` flips when it starts stopping. */
export interface Broker {
  app: FastifyInstance;
  /** From now on, new requests get 503 `backend_unavailable` (the server is stopping). */
  beginClosing(): void;
}

/**
 * Builds the broker's Fastify app over opened backends (HTTPS when `config.listen.tls` is set).
 * @throws Error when the TLS certificate or key file cannot be read.
 */
export function buildBroker(options: BrokerOptions): Broker {
  const { backends } = options;
  const tls = backends.config.listen.tls;
  const apiUrl = backends.config.slackApiUrl;
  const logger = options.logger.child({}, { serializers: requestSerializers });
  const app = Fastify({
    loggerInstance: logger,
    logController: new BrokerLogController(),
    bodyLimit: options.bodyLimit ?? 65_536,
    return503OnClosing: false,
    // A stuck client cannot hold a connection (and a stop) forever.
    requestTimeout: 30_000,
    // No coercion: a number where the token should be is an error, not a string.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, verbose: true } },
    ...(tls === undefined
      ? {}
      : { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } }),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  const context: BrokerContext = {
    backends,
    auth: createAuthenticator({
      state: backends.state,
      cacheMs: options.apiKeyCacheMs ?? DEFAULT_API_KEY_CACHE_MS,
    }),
    slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
    fetch: options.fetch ?? globalThis.fetch,
  };

  let closing = false;
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      return sendError(reply, new ServerError('backend_unavailable', 'the server is stopping'));
    }
  });
  // A keep-alive connection whose request was in flight at the stop closes after its answer, so
  // the stop does not wait for the client to hang up.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  registerHealthRoutes(app, context);
  registerOAuthRoutes(app, context);
  app.register(async (v1) => {
    v1.decorateRequest('apiKey', null as never);
    v1.addHook('onRequest', async (request) => {
      request.apiKey = await context.auth.authenticate(request.headers.authorization);
    });
    registerTokenRoutes(v1, context);
    registerInstallationRoutes(v1, context);
  });

  return {
    app,
    beginClosing() {
      closing = true;
    },
  };
}

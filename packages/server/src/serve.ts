/**
 * `serve`: opens the backends, starts the HTTP token broker (and the sweeper when enabled), and
 * stops it all cleanly on SIGTERM or SIGINT.
 */
import type { Logger } from 'pino';
import { openBackends } from './backends.js';
import { buildBroker } from './http/broker.js';
import { createObservability } from './observability/observability.js';
import { registerObservabilityRoutes } from './observability/routes.js';
import { type FleetSweeper, startFleetSweeper } from './sweeper/index.js';
import type { Backends, ServerConfig } from './types.js';

/** A started broker. */
export interface RunningServer {
  /** The base URL it listens on (`http://127.0.0.1:PORT`, or `https://…` with TLS). */
  url: string;
  backends: Backends;
  /**
   * Stops accepting, lets requests in flight finish (at most `stopTimeoutMs`), stops the sweeper,
   * waits for refreshes in flight and closes the backends. Idempotent.
   */
  stop(): Promise<void>;
}

/** Options of {@link startServer} and {@link runServe}. */
export interface ServeOptions {
  logger: Logger;
  /**
   * Create or upgrade the schemas first (default false: a fleet migrates once, with
   * `slack-rotator migrate`; the embedded SQLite store is migrated at open anyway).
   */
  migrate?: boolean;
  /** How long a stop waits for requests in flight before closing their connections. Default 10 000. */
  stopTimeoutMs?: number;
}

function urlOf(config: ServerConfig, port: number): string {
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return `${config.listen.tls === undefined ? 'http' : 'https'}://${host}:${port}`;
}

/**
 * Opens the backends and starts the broker on `config.listen`.
 * @throws ServerError when the backends cannot be opened; the listen error when the port is taken.
 */
export async function startServer(config: ServerConfig, options: ServeOptions): Promise<RunningServer> {
  const { logger } = options;
  const backends = await openBackends(config, { logger, migrate: options.migrate ?? false });
  const observability = createObservability(backends);
  let broker: ReturnType<typeof buildBroker>;
  try {
    broker = buildBroker({ backends, logger });
    registerObservabilityRoutes(broker.app, observability, backends);
    await broker.app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (error) {
    observability.close();
    await backends.close();
    throw error;
  }
  const { app } = broker;
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const sweeper: FleetSweeper | undefined = config.sweeper.enabled
    ? startFleetSweeper(backends, { logger: logger.child({ component: 'sweeper' }) })
    : undefined;

  let stopping: Promise<void> | undefined;
  async function stop(): Promise<void> {
    broker.beginClosing();
    const timer = setTimeout(() => {
      logger.warn(
        { stopTimeoutMs },
        'requests still in flight at the stop deadline; closing their connections',
      );
      app.server.closeAllConnections();
    }, stopTimeoutMs);
    try {
      await app.close();
    } finally {
      clearTimeout(timer);
    }
    await sweeper?.stop();
    observability.close();
    // Rotators wait for their refreshes in flight before the store and lock close.
    await backends.close();
    logger.info('slack-rotator broker stopped');
  }

  return {
    url: urlOf(config, port),
    backends,
    stop() {
      stopping ??= stop();
      return stopping;
    },
  };
}

/** Starts the broker and runs until SIGTERM or SIGINT, then stops cleanly and resolves. */
export async function runServe(config: ServerConfig, options: ServeOptions): Promise<void> {
  const server = await startServer(config, options);
  options.logger.info({ url: server.url }, 'slack-rotator broker listening');
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      options.logger.info({ signal }, 'slack-rotator broker stopping');
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await server.stop();
}

/**
 * `serve`: opens the backends, starts the HTTP token broker, and stops it all cleanly on a signal.
 */
import Fastify from 'fastify';
import type { Logger } from 'pino';
import type { Backends, ServerConfig } from './types.js';

/** A started broker. */
export interface RunningServer {
  /** The base URL it listens on (`http://127.0.0.1:PORT`, or `https://…` with TLS). */
  url: string;
  backends: Backends;
  /** Stops accepting, lets requests in flight finish, then closes the backends. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startServer} and {@link runServe}. */
export interface ServeOptions {
  logger: Logger;
  /** Create the store's and the state's tables first (default true). */
  migrate?: boolean;
}

async function open(config: ServerConfig, options: ServeOptions): Promise<Backends> {
  // Temporary until src/backends.ts lands: resolved at run time so the build does not depend on it.
  const specifier = './backends.js';
  const mod = (await import(specifier)) as {
    openBackends(c: ServerConfig, o: { logger: Logger; migrate?: boolean }): Promise<Backends>;
  };
  return mod.openBackends(config, { logger: options.logger, migrate: options.migrate ?? true });
}

/** Opens the backends and starts the broker on `config.listen`. */
export async function startServer(config: ServerConfig, options: ServeOptions): Promise<RunningServer> {
  const backends = await open(config, options);
  const app = Fastify({ loggerInstance: options.logger });
  app.get('/healthz', async () => ({ ok: true }));
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${config.listen.host}:${port}`,
    backends,
    stop() {
      stopping ??= (async () => {
        await app.close();
        await backends.close();
      })();
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

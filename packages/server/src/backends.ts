/**
 * Opens everything a configuration names: the store (embedded SQLite, PostgreSQL or Redis), its
 * lock (or a Redis lock beside a PostgreSQL store), encryption at rest, the server's state, and one
 * rotator per app, all on one clock. `close()` undoes it in order.
 */
import type { Redis } from 'ioredis';
import {
  createKeyRing,
  createRotator,
  type KeyRing,
  type Lock,
  type TokenStore,
  withEncryption,
} from 'slack-rotator';
import { createRedisLock } from 'slack-rotator/redis';
import { type OpenedStore, openRedisClient, openStore, quit, unreachable } from './backends-open.js';
import { createClock } from './clock.js';
import { ServerError } from './errors.js';
import type { Logger } from './logger.js';
import type { Backends, ServerConfig } from './types.js';

/** Options of {@link openBackends}. */
export interface OpenBackendsOptions {
  logger: Logger;
  /**
   * Create or upgrade the PostgreSQL schema and the server's tables (`slack-rotator migrate`,
   * `serve --migrate`). Without it a PostgreSQL store must already be migrated. SQLite is always
   * migrated (it is the embedded default); Redis needs no schema.
   */
  migrate?: boolean;
}

/** How long each part of `ping()` may take before it counts as unreachable. */
const PING_TIMEOUT_MS = 3_000;

/** The key ring of the configured encryption keys; the first is primary. */
export function keyRingOf(encryption: NonNullable<ServerConfig['encryption']>): KeyRing {
  return createKeyRing({
    primaryKeyId: (encryption.keys[0] as { id: string }).id,
    keys: Object.fromEntries(encryption.keys.map(({ id, key }) => [id, key])),
  });
}

/**
 * Opens the backends of `config`.
 *
 * @example
 * const backends = await openBackends(loadConfig({ env: process.env }), { logger });
 * try { await backends.ping(); } finally { await backends.close(); }
 * @throws ServerError `backend_unavailable` (`store unreachable (…): …` / `lock unreachable (…): …`)
 *   when a backend can't be reached; `invalid_config` when a PostgreSQL schema is missing or old
 *   without `migrate` (the message says to run `slack-rotator migrate`).
 */
export async function openBackends(config: ServerConfig, options: OpenBackendsOptions): Promise<Backends> {
  const { logger } = options;
  const now = createClock(config.testClock);
  const opened = await openStore(config.store, { migrate: options.migrate === true, logger });

  let lockClient: { client: Redis; target: string } | undefined;
  let lock: Lock & { close?(): Promise<void> };
  try {
    if (config.lock.kind === 'redis') {
      const { client, prefix, target } = await openRedisClient(config.lock.url, 'lock', logger);
      lockClient = { client, target };
      lock = createRedisLock({ client, prefix });
    } else {
      lock = opened.store.lock;
    }
    if (config.store.kind === 'sqlite' || options.migrate === true) await opened.state.migrate();
  } catch (error) {
    await closeOpened(opened, undefined, lockClient?.client);
    throw error;
  }

  const keyRing = config.encryption === undefined ? undefined : keyRingOf(config.encryption);
  const store: TokenStore = keyRing === undefined ? opened.store : withEncryption(opened.store, keyRing);
  const apps = config.apps.map((app) => ({
    config: app,
    rotator: createRotator({
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      // The rotator wraps the raw store itself: the same encryption, plus keyed (HMAC) fingerprints
      // of refresh tokens in refresh intents instead of plain SHA-256.
      store: opened.store,
      ...(keyRing === undefined ? {} : { encryption: keyRing }),
      lock,
      slackApiUrl: config.slackApiUrl,
      refreshWindowMs: config.refreshWindowMs,
      ...(app.stateSecret === undefined ? {} : { stateSecret: app.stateSecret }),
      now,
      logger: logger.child({ app: app.appId ?? app.clientId }),
    }),
  }));

  let closing: Promise<void> | undefined;
  return {
    config,
    store,
    lock,
    state: opened.state,
    apps,
    now,

    async ping() {
      const checks: [string, string, () => Promise<void>][] = [
        ['store', opened.target, opened.pingClient],
        ['state', opened.target, opened.state.ping],
      ];
      if (lockClient !== undefined) {
        const { client, target } = lockClient;
        checks.push([
          'lock',
          target,
          async () => {
            if (client.status !== 'ready') throw new Error(`the connection is ${client.status}`);
            await client.ping();
          },
        ]);
      }
      // In order, so the message names the first part that fails (the store before its state).
      for (const [what, target, check] of checks) {
        try {
          await withTimeout(check(), PING_TIMEOUT_MS);
        } catch (error) {
          if (error instanceof ServerError && what === 'state') throw error;
          throw unreachable(what, target, error);
        }
      }
    },

    close() {
      closing ??= (async () => {
        for (const app of apps) {
          await app.rotator
            .close()
            .catch((error: unknown) => logger.warn({ err: error }, 'closing a rotator failed'));
        }
        await closeOpened(opened, lockClient === undefined ? undefined : lock, lockClient?.client, logger);
      })();
      return closing;
    },
  };
}

/** Closes in order: the separate lock, the store, the state, then the clients opened for them. */
async function closeOpened(
  opened: OpenedStore,
  separateLock: (Lock & { close?(): Promise<void> }) | undefined,
  lockClient: Redis | undefined,
  logger?: Logger,
): Promise<void> {
  const steps: [string, () => Promise<void> | undefined][] = [
    ['lock', () => separateLock?.close?.()],
    ['store', () => opened.store.close()],
    ['state', () => opened.state.close()],
    ['lock client', () => (lockClient === undefined ? undefined : quit(lockClient))],
    ['store client', () => opened.closeClient()],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      // Closing goes on: a failure of one part must not leave the others open.
      logger?.warn({ err: error, part: what }, 'closing failed');
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

import { createHash } from 'node:crypto';
import { invalidArgument, isRotatorError, StorageError } from '../errors.js';

/** A value passed to a Redis command. */
export type RedisArgument = string | number;

/**
 * The connection the Redis adapters open for pub/sub: what `duplicate()` returns (an ioredis `Redis`
 * or `Cluster`). The adapters subscribe on it and disconnect it on `close()`.
 */
export interface RedisSubscriber {
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close' | 'ready', listener: () => void): unknown;
  disconnect(): void;
}

/**
 * The part of an [ioredis](https://github.com/redis/ioredis) client (5.x or 6.x; a standalone `Redis`
 * or a `Cluster`) the Redis adapters use. Pass your own client; the library never imports ioredis,
 * never closes your client, and opens one connection of its own for pub/sub (`duplicate()`).
 *
 * Do not set ioredis's `keyPrefix` on this client: use the adapters' `prefix` option instead (keys
 * found by `SCAN` and built inside Lua scripts would escape ioredis's prefix).
 */
export interface RedisClient {
  eval(script: string, numKeys: number, ...args: RedisArgument[]): Promise<unknown>;
  evalsha(sha1: string, numKeys: number, ...args: RedisArgument[]): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  smembers(key: string): Promise<string[]>;
  zrangebylex(
    key: string,
    min: string,
    max: string,
    limit: 'LIMIT',
    offset: number,
    count: number,
  ): Promise<string[]>;
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    size: number,
  ): Promise<[cursor: string, keys: string[]]>;
  hscan(
    key: string,
    cursor: string,
    count: 'COUNT',
    size: number,
  ): Promise<[cursor: string, items: string[]]>;
  duplicate(): RedisSubscriber;
  /** A `Cluster`'s nodes; `SCAN` runs on each master. Absent on a standalone client. */
  nodes?(role: 'master'): RedisClient[];
}

/** The default key prefix of the Redis adapters. */
export const DEFAULT_PREFIX = 'slack-rotator';

/**
 * Checks the `client` option: something that looks like an ioredis client without `keyPrefix`.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`).
 */
export function checkClient(client: unknown): RedisClient {
  const candidate = client as Partial<Record<keyof RedisClient, unknown>> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.evalsha !== 'function' ||
    typeof candidate.eval !== 'function' ||
    typeof candidate.hgetall !== 'function' ||
    typeof candidate.duplicate !== 'function'
  ) {
    throw invalidArgument('client must be an ioredis client (Redis or Cluster)', 'ERR_INVALID_ARG_TYPE');
  }
  const options = (candidate as { options?: { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } } })
    .options;
  if (options?.keyPrefix || options?.redisOptions?.keyPrefix) {
    throw invalidArgument("client must not set ioredis's keyPrefix; use the prefix option instead");
  }
  return candidate as RedisClient;
}

/**
 * Checks the `prefix` option. Every key starts with `<prefix>:`; braces are refused because they
 * would change the keys' Redis Cluster hash tags.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`).
 */
export function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || !/^[^\s{}]{1,100}$/.test(prefix)) {
    throw invalidArgument('prefix must be 1 to 100 characters without whitespace or braces');
  }
  return prefix;
}

/** Escapes a literal for a `SCAN … MATCH` glob pattern. */
export function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Wraps a failure of Redis in a `StorageError` (code `store_failed`). Its `cause` is a copy of the
 * driver's error holding only its name, message and code: ioredis attaches the command's arguments
 * to its errors, and those may be tokens.
 */
export function redisFailed(what: string, error: unknown, chainKey?: string): StorageError {
  if (isRotatorError(error)) return error as StorageError;
  const original = error instanceof Error ? error : new Error(String(error));
  const cause = new Error(original.message);
  cause.name = original.name;
  const code = (original as { code?: unknown }).code;
  if (typeof code === 'string') (cause as Error & { code: string }).code = code;
  return new StorageError('store_failed', `[slack-rotator] Redis ${what} failed`, {
    cause,
    ...(chainKey === undefined ? {} : { chainKey }),
  });
}

/** Runs `fn`, turning any failure into {@link redisFailed}. */
export async function attempt<T>(what: string, fn: () => Promise<T>, chainKey?: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw redisFailed(what, error, chainKey);
  }
}

/** The socket of a standalone ioredis client, when it has one (a Cluster has none). */
interface Corkable {
  cork(): void;
  uncork(): void;
}
const corked = new WeakSet<Corkable>();

/**
 * Holds back the writes of `client`'s connection until the current run of synchronous code ends,
 * then sends them in one system call. ioredis writes each command as it is sent; in a burst, each
 * write is a system call that also wakes the Redis server, on a busy machine a context switch.
 */
export function coalesceWrites(client: RedisClient): void {
  const stream = (client as { stream?: Partial<Corkable> | null }).stream;
  if (
    stream == null ||
    typeof stream.cork !== 'function' ||
    typeof stream.uncork !== 'function' ||
    corked.has(stream as Corkable)
  ) {
    return;
  }
  const socket = stream as Corkable;
  socket.cork();
  corked.add(socket);
  process.nextTick(() => {
    corked.delete(socket);
    socket.uncork();
  });
}

/** A Lua script run by its SHA-1 (`EVALSHA`), loaded with `EVAL` on the node that does not know it yet. */
export interface Script {
  run(client: RedisClient, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown>;
}

/** Prepares a Lua script; `run` uses `EVALSHA` and falls back to `EVAL` on `NOSCRIPT`. */
export function script(source: string): Script {
  const sha1 = createHash('sha1').update(source).digest('hex');
  return {
    async run(client, keys, args) {
      try {
        coalesceWrites(client);
        return await client.evalsha(sha1, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return client.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}

/**
 * Every key matching `pattern`, on every master of a Cluster or on the one server. Send a command
 * through a Cluster client first, so that it knows its nodes.
 */
export async function* scanKeys(client: RedisClient, pattern: string): AsyncGenerator<string[]> {
  const nodes = typeof client.nodes === 'function' ? client.nodes('master') : [client];
  // A Cluster that has not connected yet knows no node: scanning nothing would pass for success.
  if (nodes.length === 0) throw new Error('the Cluster client knows no master node yet');
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';

const run = promisify(execFile);

/** The shared Redis of the development and CI machines (scripts/services.sh starts it). */
export const REDIS = { host: '127.0.0.1', port: 6379 } as const;

/** A key prefix no other test (file) uses. */
export function randomPrefix(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

/** A client of the shared Redis that fails fast instead of queueing while the server is away. */
export function openClient(): Redis {
  return new Redis({ ...REDIS, maxRetriesPerRequest: 2 });
}

/** What {@link deletePrefix} needs of a client: ioredis 5 and 6 both fit. */
interface Scanner {
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[string, string[]]>;
  del(key: string): Promise<number>;
}

/** Deletes every key of `prefix` (SCAN + DEL), on every master of a Cluster. Never FLUSHALL. */
export async function deletePrefix(client: Scanner | Cluster, prefix: string): Promise<void> {
  const nodes: Scanner[] = client instanceof Cluster ? client.nodes('master') : [client as Scanner];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: on a Cluster node, keys of one call must share a slot.
      await Promise.all(keys.map((key) => node.del(key)));
    } while (cursor !== '0');
  }
}

/**
 * A fresh prefix and two clients from `open` (a process and its peer, as the conformance suites
 * want), with the cleanup that deletes the prefix and closes both.
 */
export function twoClients<C extends Scanner & { quit(): Promise<unknown> }>(open: () => C) {
  const prefix = randomPrefix();
  const client = open();
  const other = open();
  return {
    prefix,
    client,
    other,
    async cleanup() {
      await deletePrefix(client, prefix);
      await Promise.all([client.quit(), other.quit()]);
    },
  };
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    // The cluster bus listens on port + 10000.
    if (port > 0 && port + 10_000 < 65_536 && (await isFree(port + 10_000))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A local 3-master Redis Cluster of child processes, for one test file. */
export interface LocalCluster {
  ports: number[];
  /** A new ioredis `Cluster` client of it. */
  connect(): Cluster;
  stop(): Promise<void>;
}

/**
 * Starts three `redis-server --cluster-enabled yes` children on free ports in a temporary directory,
 * joins them with `redis-cli --cluster create`, and waits for `cluster_state:ok`.
 */
export async function startCluster(): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    while (ports.length < 3) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    for (const port of ports) {
      // biome-ignore format: one flag per line
      const child = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
        '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no',
      ], { stdio: 'ignore' });
      children.push(child);
    }
    for (const port of ports) await waitFor(() => ping(port), `redis-server on ${port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitFor(async () => {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
        return stdout.includes('cluster_state:ok');
      }, `cluster_state:ok on ${port}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    connect: () =>
      new Cluster(
        ports.map((port) => ({ host: '127.0.0.1', port })),
        { redisOptions: { maxRetriesPerRequest: 2 } },
      ),
    stop,
  };
}

async function ping(port: number): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A Redis server of one test (never the shared one), durable like production: AOF, fsync always. */
export interface OwnServer {
  port: number;
  /** SIGKILL: the server dies without a chance to save anything beyond its AOF. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (its AOF brings the data back). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a `redis-server` child on a free port with `--appendonly yes --appendfsync always`. */
export async function startServer(): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const kill = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  };
  const start = async () => {
    // biome-ignore format: one flag per line
    child = spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no',
    ], { stdio: 'ignore' });
    await waitFor(() => ping(port), `redis-server on ${port}`);
  };
  await start();
  return {
    port,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `promise`, or a failure when it has not settled after `ms` — for an event that takes milliseconds,
 * bounded far above that and far below any fallback that would also settle it (a lock's re-check).
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

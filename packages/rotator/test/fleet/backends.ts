import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate } from '../../src/postgres.js';
import type { FleetBackend } from './config.js';

const run = promisify(execFile);

export type BackendKind = FleetBackend['kind'];

/** A backend made for one fleet run, with the faults that can be applied to it. */
export interface PreparedBackend {
  config: FleetBackend;
  /** Terminates the PostgreSQL connections whose application_name starts with `prefix`. */
  terminateConnections?: (prefix: string) => Promise<void>;
  /** Restarts the run's own Redis server (AOF, fsync always: the data survives). */
  restartRedis?: () => Promise<void>;
  dispose(): Promise<void>;
}

const ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** A Redis server of the run's own, on a free port, that keeps its data across restarts. */
async function ownRedis(): Promise<{ url: string; restart(): Promise<void>; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes'];
  args.push('--appendfsync', 'always', '--dir', dir, '--daemonize', 'no');
  let server: ChildProcess | undefined;
  const up = async () => {
    server = spawn('redis-server', args, { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
        if (stdout.trim() === 'PONG') return;
      } catch {
        // not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the run's Redis on port ${port} did not start`);
  };
  const down = async () => {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    await run('redis-cli', ['-p', String(port), 'shutdown']).catch(() => server?.kill('SIGTERM'));
    await exited;
  };
  await up();
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await down();
      await up();
    },
    stop: async () => {
      await down().catch(() => server?.kill('SIGKILL'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function ownDatabase(
  id: string,
): Promise<{ connectionString: string; terminate(prefix: string): Promise<void>; drop(): Promise<void> }> {
  const name = `slack_rotator_${id}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Pool({
    connectionString: ADMIN,
    application_name: 'slack-rotator-fleet-admin',
    max: 2,
  });
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const connectionString = `postgres://postgres@127.0.0.1:5432/${name}`;
  const pool = new pg.Pool({ connectionString, max: 1 });
  await migrate(pool, { schema: 'fleet' });
  await pool.end();
  return {
    connectionString,
    async terminate(prefix) {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()',
        [`${prefix}%`],
      );
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Makes the backend for a run: a temp SQLite file, a database of its own, a Redis of its own. */
export async function prepareBackend(kind: BackendKind, id: string): Promise<PreparedBackend> {
  switch (kind) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-fleet-'));
      return {
        config: { kind, path: join(dir, 'tokens.db') },
        dispose: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'postgres': {
      const db = await ownDatabase(id);
      return {
        config: { kind, connectionString: db.connectionString, schema: 'fleet' },
        terminateConnections: db.terminate,
        dispose: db.drop,
      };
    }
    case 'redis': {
      const redis = await ownRedis();
      return {
        config: { kind, url: redis.url, prefix: `fleet:${id}` },
        restartRedis: redis.restart,
        dispose: redis.stop,
      };
    }
    case 'postgres+redis': {
      const db = await ownDatabase(id);
      const redis = await ownRedis();
      return {
        config: {
          kind,
          connectionString: db.connectionString,
          schema: 'fleet',
          url: redis.url,
          prefix: `fleet:${id}`,
        },
        terminateConnections: db.terminate,
        restartRedis: redis.restart,
        async dispose() {
          await redis.stop();
          await db.drop();
        },
      };
    }
  }
}

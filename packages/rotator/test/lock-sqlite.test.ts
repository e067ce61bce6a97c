import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createSqliteLock } from '../src/sqlite.js';
import { describeLock } from '../src/testing/lock-suite.js';
import {
  exited,
  spawnWorker,
  startTogether,
  type TempDatabase,
  tempDatabase,
} from './fixtures/sqlite-files.js';

describeLock(
  { describe, test },
  {
    name: 'sqlite (two connections to one file)',
    create() {
      const files = tempDatabase();
      return {
        lock: createSqliteLock({ database: files.open() }),
        peer: createSqliteLock({ database: files.open() }),
        cleanup: () => files.cleanup(),
      };
    },
  },
);

describe('createSqliteLock', () => {
  let files: TempDatabase;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    files = tempDatabase();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited(child);
    }
    files.cleanup();
  });

  test('two OS processes on one file never hold the lock at the same time', async () => {
    const log = join(files.dir, 'holders.log');
    writeFileSync(log, '');
    createSqliteLock({ database: files.open() });
    const workers = [spawnWorker('loop', files.file, log, '40'), spawnWorker('loop', files.file, log, '40')];
    children.push(...workers);
    await startTogether(workers);
    expect(await Promise.all(workers.map(exited))).toEqual([0, 0]);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(160);
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, pid] = (lines[i] as string).split(' ');
      expect(enter, `line ${i + 1} must open a holding`).toBe('enter');
      expect(lines[i + 1], `line ${i + 2} must close the holding of ${pid}`).toBe(`exit ${pid}`);
    }
    expect(new Set(lines.map((line) => line.split(' ')[1])).size).toBe(2);
  });

  test('a process killed while holding the lock: another takes over after the TTL', async () => {
    const holder = spawnWorker('hold', files.file, '300');
    children.push(holder);
    const owner = await new Promise<string>((resolve, reject) => {
      holder.once('message', (message) => resolve((message as { held: string }).held));
      holder.once('exit', () => reject(new Error('the holder exited before holding the lock')));
    });
    holder.kill('SIGKILL');
    await exited(holder);
    const database = files.open();
    const lock = createSqliteLock({ database });
    const lease = await lock.acquire('shared', { ttlMs: 10_000, waitMs: 10_000 });
    expect(lease.owner).not.toBe(owner);
    const row = database.prepare('SELECT owner FROM slack_rotator_locks WHERE name = ?').get('shared');
    expect(row).toEqual({ owner: lease.owner });
    expect(await lock.renew(lease, 10_000)).toBe(true);
  });

  test('commits before returning: no transaction is left open, the lease row holds owner and expiry', async () => {
    let clock = 5_000;
    const database = files.open();
    const lock = createSqliteLock({ database, now: () => clock });
    const lease = await lock.acquire('k', { ttlMs: 1_000, waitMs: 0 });
    expect(database.inTransaction).toBe(false);
    const other = files.open();
    expect(other.prepare('SELECT * FROM slack_rotator_locks').all()).toEqual([
      { name: 'k', owner: lease.owner, acquired_at: 5_000, expires_at: 6_000 },
    ]);
    clock = 5_500;
    expect(await lock.renew(lease, 1_000)).toBe(true);
    expect(other.prepare('SELECT expires_at FROM slack_rotator_locks').get()).toEqual({ expires_at: 6_500 });
    clock = 6_500;
    expect(await lock.renew(lease, 1_000)).toBe(false);
    await lock.release(lease);
    expect(other.prepare('SELECT * FROM slack_rotator_locks').all()).toEqual([]);
  });

  test('a waiter on a held lock retries while another connection keeps the database busy', async () => {
    const lock = createSqliteLock({ database: files.open(), busyTimeoutMs: 10 });
    const blocker = files.open();
    blocker.exec('BEGIN IMMEDIATE');
    const acquiring = lock.acquire('k', { ttlMs: 1_000, waitMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    blocker.exec('COMMIT');
    expect((await acquiring).name).toBe('k');
  });

  test('a database that stays busy past busyWaitMs fails with store_failed', async () => {
    const lock = createSqliteLock({ database: files.open(), busyTimeoutMs: 5, busyWaitMs: 50 });
    const blocker = files.open();
    blocker.exec('BEGIN IMMEDIATE');
    const error = await lock.acquire('k', { ttlMs: 1_000, waitMs: 0 }).catch((caught: unknown) => caught);
    blocker.exec('ROLLBACK');
    expect(error).toMatchObject({ name: 'StorageError', code: 'store_failed' });
    expect((error as Error).cause).toMatchObject({ code: 'SQLITE_BUSY' });
  });

  test('close rejects a waiter with code closed', async () => {
    const lock = createSqliteLock({ database: files.open() });
    await lock.acquire('k', { ttlMs: 10_000, waitMs: 0 });
    const waiting = lock.acquire('k', { ttlMs: 10_000, waitMs: 10_000 });
    await lock.close?.();
    await expect(waiting).rejects.toMatchObject({ code: 'closed' });
  });

  test('validates its options', () => {
    expect(() => createSqliteLock({} as never)).toThrow(/^\[slack-rotator\] database must be/);
    const database = files.open();
    expect(() => createSqliteLock({ database, tablePrefix: 'x; DROP' })).toThrow(/tablePrefix/);
    expect(() => createSqliteLock({ database, pollMinMs: 50, pollMaxMs: 10 })).toThrow(/pollMaxMs/);
    expect(() => createSqliteLock({ database, busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
  });
});

import { afterEach, describe, expect, test } from 'vitest';
import { withEncryption } from '../src/crypto/encrypted-store.js';
import { createKeyRing, generateKey, type KeyRing } from '../src/crypto/key-ring.js';
import { type ReencryptProgress, reencrypt } from '../src/crypto/reencrypt.js';
import type { Lock } from '../src/lock/types.js';
import { createSqliteStore } from '../src/sqlite.js';
import { createMemoryStore } from '../src/store/memory.js';
import type { ChainStatus, TokenRecord, TokenStore } from '../src/store/types.js';
import { listAll, sampleRecord } from '../src/testing/store-fixtures.js';
import { tempDatabase } from './fixtures/sqlite-files.js';
import { type Harness, harness, refreshCalls } from './helpers/setup.js';

const K0 = generateKey();
const K1 = generateKey();
const K2 = generateKey();
const ring1 = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1 } });
const ring12 = createKeyRing({ primaryKeyId: 'k2', keys: { k1: K1, k2: K2 } });
const ring2 = createKeyRing({ primaryKeyId: 'k2', keys: { k2: K2 } });
const TOKEN_FIELDS = ['accessToken', 'refreshToken', 'fallbackRefreshToken'] as const;
const STATUSES: ChainStatus[] = ['active', 'reauthorization_required', 'revoked'];

/** The key id of every token field stored in the raw store (`plain` for an unencrypted one). */
async function keyIdsAtRest(raw: TokenStore, keyRing: KeyRing): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const record of (await listAll(raw)).records) {
    for (const field of TOKEN_FIELDS) {
      const value = record[field];
      if (typeof value === 'string') ids.add(keyRing.keyIdOf(value) ?? 'plain');
    }
  }
  return ids;
}

/** `count` chains written through `keyRing`, some with a sibling, in every status. */
async function seed(raw: TokenStore, keyRing: KeyRing, count: number, prefix = 'T'): Promise<TokenRecord[]> {
  const store = withEncryption(raw, keyRing);
  const written: TokenRecord[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `${prefix}${String(i).padStart(5, '0')}`;
    written.push(
      await store.put(
        sampleRecord(id, {
          fallbackRefreshToken: i % 3 === 0 ? `xoxe-1-fake-sibling-${id}` : null,
          status: STATUSES[i % 3] as ChainStatus,
        }),
      ),
    );
  }
  return written;
}

/** Asserts that `keyRing` reads back every chain exactly as written (tokens compared, not printed). */
async function assertReadable(raw: TokenStore, keyRing: KeyRing, expected: TokenRecord[]): Promise<void> {
  const store = withEncryption(raw, keyRing);
  const { records } = await listAll(store, { limit: 1000 });
  expect(records).toHaveLength(expected.length);
  const byKey = new Map(records.map((record) => [record.chainKey, record]));
  for (const want of expected) {
    const got = byKey.get(want.chainKey);
    const same = TOKEN_FIELDS.every((field) => got?.[field] === want[field]);
    expect(same, `the tokens of ${want.chainKey} read back as written`).toBe(true);
  }
}

describe('reencrypt: key rotation', () => {
  test('k1 → k2 in batches on SQLite; then a ring with only k2 reads everything; a second run is a no-op', async () => {
    const files = tempDatabase();
    try {
      const raw = createSqliteStore({ database: files.open() });
      const written = await seed(raw, ring1, 250);
      expect(await keyIdsAtRest(raw, ring1)).toEqual(new Set(['k1']));
      // The new ring (primary k2, still holding k1) reads what k1 wrote, before any re-encryption.
      await assertReadable(raw, ring12, written);
      await expect(withEncryption(raw, ring2).get(written[0]?.chainKey as string)).rejects.toMatchObject({
        code: 'key_not_found',
      });

      const progress: ReencryptProgress[] = [];
      const result = await reencrypt(raw, ring12, { batchSize: 100, onProgress: (p) => progress.push(p) });
      expect(result).toEqual({
        scanned: 250,
        reencrypted: 250,
        alreadyCurrent: 0,
        failed: 0,
        deleted: 0,
        batches: 3,
        failures: [],
      });
      expect(progress.map((p) => [p.batches, p.scanned])).toEqual([
        [1, 100],
        [2, 200],
        [3, 250],
      ]);
      expect(await keyIdsAtRest(raw, ring12)).toEqual(new Set(['k2']));
      await assertReadable(raw, ring2, written);
      const versions = (await listAll(raw)).records.map((record) => record.version);
      expect(new Set(versions)).toEqual(new Set([2]));

      const again = await reencrypt(raw, ring12, { batchSize: 1000 });
      expect(again).toMatchObject({
        scanned: 250,
        reencrypted: 0,
        alreadyCurrent: 250,
        failed: 0,
        batches: 1,
      });
      expect(new Set((await listAll(raw)).records.map((record) => record.version))).toEqual(new Set([2]));
    } finally {
      files.cleanup();
    }
  });

  test('10,000 chains on SQLite: re-encrypted in 10 batches, then 0 failed reads with only the new key', async () => {
    const files = tempDatabase();
    try {
      const raw = createSqliteStore({ database: files.open() });
      const written = await seed(raw, ring1, 10_000);
      let batches = 0;
      const result = await reencrypt(raw, ring12, { batchSize: 1000, onProgress: () => (batches += 1) });
      expect(result).toMatchObject({ scanned: 10_000, reencrypted: 10_000, failed: 0, batches: 10 });
      expect(batches).toBe(10);
      await assertReadable(raw, ring2, written);
      expect(await reencrypt(raw, ring2, { batchSize: 1000 })).toMatchObject({
        alreadyCurrent: 10_000,
        failed: 0,
      });
    } finally {
      files.cleanup();
    }
  });

  test('plaintext from before encryption is encrypted; unreadable chains are counted and named, not thrown', async () => {
    const raw = createMemoryStore();
    const written = await seed(raw, ring1, 6);
    const plain = sampleRecord('P00001');
    await raw.put(plain);
    const lost = await seed(raw, createKeyRing({ primaryKeyId: 'k0', keys: { k0: K0 } }), 1, 'L');
    const tampered = written[1] as TokenRecord;
    const sealed = (await raw.get(tampered.chainKey)) as TokenRecord;
    await raw.compareAndSet(tampered.chainKey, sealed.version, {
      accessToken: sealed.refreshToken,
      refreshToken: sealed.accessToken,
      updatedAt: 1,
    });

    const result = await reencrypt(raw, ring12);
    expect(result).toMatchObject({ scanned: 8, reencrypted: 6, alreadyCurrent: 0, failed: 2, deleted: 0 });
    expect(result.failures).toEqual([
      { chainKey: lost[0]?.chainKey, code: 'key_not_found' },
      { chainKey: tampered.chainKey, code: 'decryption_failed' },
    ]);
    const migrated = (await raw.get(plain.chainKey)) as TokenRecord;
    expect(ring12.keyIdOf(migrated.accessToken)).toBe('k2');
    const read = await withEncryption(raw, ring2).get(plain.chainKey);
    expect(read?.accessToken === plain.accessToken && read.refreshToken === plain.refreshToken).toBe(true);
    // What could not be read is left exactly as it was.
    expect((await raw.get(tampered.chainKey))?.version).toBe(sealed.version + 1);
  });

  test('a refresh intent at the record’s version moves to the new version with it', async () => {
    const raw = createMemoryStore();
    const [a, b] = (await seed(raw, ring1, 2)) as [TokenRecord, TokenRecord];
    const intent = { version: 1, fingerprint: 'hmac-sha256:k1:x', startedAt: 10, deadlineAt: 20 };
    await raw.recordIntent(a.chainKey, 1, intent);
    // An intent left at an older version is stale; it stays as it is.
    await raw.compareAndSet(b.chainKey, 1, { lastErrorCode: 'x', updatedAt: 2 });
    await raw.recordIntent(b.chainKey, 2, intent);
    await raw.compareAndSet(b.chainKey, 2, { lastErrorCode: null, updatedAt: 3 });
    await reencrypt(raw, ring12);
    expect(await raw.get(a.chainKey)).toMatchObject({ version: 2, refreshIntent: { ...intent, version: 2 } });
    expect(await raw.get(b.chainKey)).toMatchObject({ version: 4, refreshIntent: intent });
  });

  test('stops when the signal aborts; chains done so far stay done and the next run finishes', async () => {
    const raw = createMemoryStore();
    const written = await seed(raw, ring1, 30);
    const controller = new AbortController();
    const run = reencrypt(raw, ring12, {
      batchSize: 10,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.batches === 1) controller.abort(new Error('stop'));
      },
    });
    await expect(run).rejects.toThrow('stop');
    const after = await reencrypt(raw, ring12);
    expect(after).toMatchObject({ scanned: 30, reencrypted: 20, alreadyCurrent: 10, failed: 0 });
    await assertReadable(raw, ring2, written);
  });

  test('refuses an encrypted store (double encryption) and invalid options', async () => {
    const raw = createMemoryStore();
    await expect(reencrypt(withEncryption(raw, ring12), ring12)).rejects.toThrow(/needs the raw store/);
    await expect(reencrypt(raw, {} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    for (const batchSize of [0, 1.5, 1001]) {
      await expect(reencrypt(raw, ring12, { batchSize })).rejects.toThrow(
        /batchSize must be an integer from 1 to 1000/,
      );
    }
    await expect(reencrypt(raw, ring12, { onProgress: 1 as never })).rejects.toThrow(/onProgress/);
  });
});

describe('reencrypt while rotators refresh', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  test('no pair is lost: every stored refresh token is still live at a strict Slack, one call per rotation', async () => {
    const raw = createMemoryStore();
    // Strict single-use refresh tokens: any refresh token left behind by a lost write is dead at once.
    h = await harness({
      store: raw,
      slack: { refreshGraceMs: 0, latencyMs: 15 },
      rotator: { encryption: ring1 },
    });
    const chains = 24;
    for (let i = 0; i < chains; i += 1) await h.installWith({ teamId: `T${i}` });
    const rotator = h.another({ encryption: ring12 });

    // Re-encryption starts while refreshes are in flight: when every busy chain's lock is held
    // (Slack answers in 15 ms), before their first rotation has stored a pair under k2. The memory
    // store's calls settle without I/O, so a re-encryption started at another moment can run from
    // start to end while no lock is held.
    let acquired = 0;
    const held = new Promise<void>((resolve) => {
      rotator.on('lock-acquired', () => {
        acquired += 1;
        if (acquired === chains / 2) resolve();
      });
    });
    let refreshing = true;
    let rotations = 0;
    // Half the chains refresh back to back the whole time; the other half sit idle.
    const refreshes = Array.from({ length: chains / 2 }, async (_, n) => {
      const i = 2 * n;
      while (refreshing) {
        await rotator.refresh({ teamId: `T${i}` }, { force: true });
        rotations += 1;
      }
    });
    // The store's own lock, noting each time re-encryption found a refresh in flight and waited.
    let waited = 0;
    const lock: Lock = {
      ...raw.lock,
      async acquire(name, options) {
        try {
          return await raw.lock.acquire(name, { ...options, waitMs: 0 });
        } catch {
          waited += 1;
          return raw.lock.acquire(name, options);
        }
      },
    };
    await held;
    const progress: ReencryptProgress[] = [];
    const result = await reencrypt(raw, ring12, { batchSize: 5, lock, onProgress: (p) => progress.push(p) });
    refreshing = false;
    await Promise.all(refreshes);

    expect(result).toMatchObject({ scanned: chains, failed: 0, deleted: 0 });
    expect(result.reencrypted + result.alreadyCurrent).toBe(chains);
    // Idle chains are rewritten; a busy one may have been rewritten under k2 by its own refresh first.
    expect(result.reencrypted).toBeGreaterThanOrEqual(chains / 2);
    expect(waited, 'the run met refreshes in flight').toBeGreaterThan(0);
    expect(progress).toHaveLength(5);
    expect(rotations).toBeGreaterThanOrEqual(chains / 2);
    expect(refreshCalls(h.slack)).toBe(rotations);
    expect(await keyIdsAtRest(raw, ring12)).toEqual(new Set(['k2']));
    const { records } = await listAll(withEncryption(raw, ring2));
    expect(records).toHaveLength(chains);
    for (const record of records) {
      expect(record.status).toBe('active');
      expect(h.slack.peekRefreshToken(record.refreshToken), record.chainKey).toBe('active');
      expect(h.slack.peekAccessToken(record.accessToken), record.chainKey).toBe('active');
      // Compared, not printed: a refresh that lost its compare-and-set keeps its pair as the sibling.
      expect(record.fallbackRefreshToken === null, `${record.chainKey} lost a compare-and-set`).toBe(true);
    }
  });
});

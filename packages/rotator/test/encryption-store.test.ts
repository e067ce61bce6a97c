import Database from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { withEncryption } from '../src/crypto/encrypted-store.js';
import { createKeyRing, generateKey } from '../src/crypto/key-ring.js';
import { createSqliteStore } from '../src/sqlite.js';
import { createMemoryStore } from '../src/store/memory.js';
import type { TokenRecord, TokenStore } from '../src/store/types.js';
import { BASE_AT, fakeTokens, sampleRecord } from '../src/testing/store-fixtures.js';
import { describeTokenStore } from '../src/testing/store-suite.js';
import { tempDatabase } from './fixtures/sqlite-files.js';

const K1 = generateKey();
const K2 = generateKey();
const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1 } });

describeTokenStore(
  { describe, test },
  { name: 'withEncryption(memory)', create: () => ({ store: withEncryption(createMemoryStore(), ring) }) },
);

describeTokenStore(
  { describe, test },
  {
    name: 'withEncryption(sqlite, two connections to one file)',
    create() {
      const files = tempDatabase();
      return {
        store: withEncryption(createSqliteStore({ database: files.open() }), ring),
        peer: withEncryption(createSqliteStore({ database: files.open() }), ring),
        cleanup: () => files.cleanup(),
      };
    },
  },
);

/** An encrypted memory store and the raw store beneath it. */
function memory(options: Parameters<typeof withEncryption>[2] = {}) {
  const raw = createMemoryStore();
  return { raw, store: withEncryption(raw, ring, options) };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; chainKey?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; chainKey?: string };
  }
  throw new Error('expected a rejection');
}

/** Rewrites token fields of the raw record (as an attacker with database access would). */
async function tamper(raw: TokenStore, chainKey: string, fields: Partial<TokenRecord>): Promise<void> {
  const record = (await raw.get(chainKey)) as TokenRecord;
  const written = await raw.compareAndSet(chainKey, record.version, {
    ...fields,
    updatedAt: record.updatedAt,
  });
  expect(written).toBeDefined();
}

function flipByte(value: string): string {
  const parts = value.split(':');
  const body = Buffer.from(parts[4] as string, 'base64url');
  body[3] = (body[3] as number) ^ 0x80;
  parts[4] = body.toString('base64url');
  return parts.join(':');
}

describe('withEncryption: what is at rest', () => {
  test('raw SQLite rows hold no token (no "xox" anywhere), after put and compareAndSet', async () => {
    const files = tempDatabase();
    try {
      const database = files.open();
      const store = withEncryption(createSqliteStore({ database }), ring);
      const records = [
        sampleRecord('T0000001', { fallbackRefreshToken: 'xoxe-1-fake-fallback' }),
        sampleRecord('T0000002'),
      ];
      for (const record of records) await store.put(record);
      await store.compareAndSet(records[1]?.chainKey as string, 1, {
        ...fakeTokens(),
        fallbackRefreshToken: 'xoxe-1-fake-sibling',
        updatedAt: BASE_AT + 1,
      });
      const rows = database.prepare('SELECT * FROM slack_rotator_chains').all() as Record<string, unknown>[];
      expect(rows).toHaveLength(2);
      const dump = JSON.stringify(rows);
      expect(dump.includes('xox'), 'a raw row holds token material').toBe(false);
      for (const row of rows) {
        expect(row.access_token).toMatch(/^enc:v1:k1:/);
        expect(row.refresh_token).toMatch(/^enc:v1:k1:/);
        expect(row.fallback_refresh_token).toMatch(/^enc:v1:k1:/);
      }
      // Everything else stays plain, so indexes and filters work.
      expect(rows.map((row) => row.client_id)).toEqual(['1111.2222', '1111.2222']);
      const read = await store.get(records[0]?.chainKey as string);
      expect(read?.fallbackRefreshToken === 'xoxe-1-fake-fallback').toBe(true);
    } finally {
      files.cleanup();
    }
  });

  test('raw memory records hold no token; equal plaintexts give different ciphertexts', async () => {
    const { raw, store } = memory();
    const tokens = fakeTokens();
    const a = sampleRecord('T0000001', tokens);
    const b = sampleRecord('T0000002', tokens);
    await store.put(a);
    await store.put(b);
    await store.put(a);
    const page = await raw.list();
    expect(JSON.stringify(page).includes('xox')).toBe(false);
    const [ra, rb] = page.records as [TokenRecord, TokenRecord];
    expect(ra.accessToken).not.toBe(rb.accessToken);
    expect(ra.refreshToken).not.toBe(rb.refreshToken);
    // The same plaintext in the same field of the same chain, written twice: a fresh IV each time.
    const again = (await raw.get(a.chainKey)) as TokenRecord;
    await store.put(a);
    expect(((await raw.get(a.chainKey)) as TokenRecord).accessToken).not.toBe(again.accessToken);
    const listed = await store.list();
    expect(listed.records.map((r) => r.accessToken === tokens.accessToken)).toEqual([true, true]);
  });

  test('invalid input is still refused with a TypeError naming the field, before encryption', async () => {
    const { store } = memory();
    await expect(store.put({ ...sampleRecord(), refreshToken: '' })).rejects.toMatchObject({
      name: 'TypeError',
      message: '[slack-rotator] record.refreshToken is missing or invalid',
    });
    await store.put(sampleRecord());
    await expect(
      store.compareAndSet(sampleRecord().chainKey, 1, { accessToken: '', updatedAt: 1 }),
    ).rejects.toMatchObject({ name: 'TypeError', message: expect.stringMatching(/accessToken is invalid/) });
  });
});

describe('withEncryption: tampering fails with a typed error naming the chain and the key id', () => {
  test('a ciphertext moved to another chain’s row fails to decrypt', async () => {
    const { raw, store } = memory();
    const a = sampleRecord('T0000001');
    const b = sampleRecord('T0000002');
    await store.put(a);
    await store.put(b);
    const rawA = (await raw.get(a.chainKey)) as TokenRecord;
    await tamper(raw, b.chainKey, { refreshToken: rawA.refreshToken });
    const error = await rejection(store.get(b.chainKey));
    expect(error).toMatchObject({ name: 'StorageError', code: 'decryption_failed', chainKey: b.chainKey });
    expect(error.message).toMatch(new RegExp(`refreshToken of chain ${b.chainKey} \\(key "k1"\\)`));
    // The other chain is untouched, and the list of all chains fails rather than skipping one.
    expect((await store.get(a.chainKey))?.refreshToken === a.refreshToken).toBe(true);
    await expect(store.list()).rejects.toMatchObject({ code: 'decryption_failed' });
  });

  test('the same chain key under another app (clientId) does not decrypt', async () => {
    const { raw, store } = memory();
    const record = sampleRecord('T0000001');
    await store.put(record);
    const sealed = (await raw.get(record.chainKey)) as TokenRecord;
    await raw.put({ ...sealed, clientId: '9999.9999' });
    await expect(store.get(record.chainKey)).rejects.toMatchObject({ code: 'decryption_failed' });
  });

  test('access and refresh ciphertexts swapped in one row fail to decrypt', async () => {
    const { raw, store } = memory();
    const record = sampleRecord();
    await store.put(record);
    const sealed = (await raw.get(record.chainKey)) as TokenRecord;
    await tamper(raw, record.chainKey, {
      accessToken: sealed.refreshToken,
      refreshToken: sealed.accessToken,
    });
    const error = await rejection(store.get(record.chainKey));
    expect(error).toMatchObject({ code: 'decryption_failed', chainKey: record.chainKey });
    expect(error.message).toMatch(/accessToken of chain .* \(key "k1"\): .*failed authentication/);
  });

  test('a flipped ciphertext byte fails to decrypt', async () => {
    const { raw, store } = memory();
    const record = sampleRecord('T0000001', { fallbackRefreshToken: 'xoxe-1-fake-fallback' });
    await store.put(record);
    const sealed = (await raw.get(record.chainKey)) as TokenRecord;
    await tamper(raw, record.chainKey, {
      fallbackRefreshToken: flipByte(sealed.fallbackRefreshToken as string),
    });
    const error = await rejection(store.get(record.chainKey));
    expect(error).toMatchObject({ code: 'decryption_failed', chainKey: record.chainKey });
    expect(error.message).toMatch(/fallbackRefreshToken of chain .* \(key "k1"\)/);
  });

  test('a record under a key the ring no longer has is key_not_found naming the key id, never an empty token', async () => {
    const raw = createMemoryStore();
    const record = sampleRecord();
    await withEncryption(raw, ring).put(record);
    const without = withEncryption(raw, createKeyRing({ primaryKeyId: 'k2', keys: { k2: K2 } }));
    const error = await rejection(without.get(record.chainKey));
    expect(error).toMatchObject({ name: 'StorageError', code: 'key_not_found', chainKey: record.chainKey });
    expect(error.message).toMatch(/key "k1", not in the key ring/);
    expect(error.message).toMatch(new RegExp(record.chainKey));
    // A ring with the right id but the wrong key bytes: decryption_failed, naming the id.
    const impostor = withEncryption(raw, createKeyRing({ primaryKeyId: 'k1', keys: { k1: K2 } }));
    await expect(impostor.get(record.chainKey)).rejects.toMatchObject({
      code: 'decryption_failed',
      message: expect.stringMatching(/key "k1"/),
    });
    for (const e of [error]) {
      const shown = `${e.message} ${JSON.stringify(e)} ${String(e.cause)}`;
      for (const secret of [record.accessToken, record.refreshToken, K1, K2]) {
        expect(shown.includes(secret)).toBe(false);
      }
    }
  });
});

describe('withEncryption: plaintext left from before encryption', () => {
  test('is refused by default with decryption_failed, naming the chain and the way out', async () => {
    const { raw, store } = memory();
    const record = sampleRecord();
    await raw.put(record);
    const error = await rejection(store.get(record.chainKey));
    expect(error).toMatchObject({
      name: 'StorageError',
      code: 'decryption_failed',
      chainKey: record.chainKey,
    });
    expect(error.message).toMatch(/accessToken of chain .* is stored unencrypted; run reencrypt\(\)/);
    expect(error.message.includes(record.accessToken)).toBe(false);
  });

  test('is read with { allowPlaintext: true }; every write is still encrypted', async () => {
    const { raw, store } = memory({ allowPlaintext: true });
    const record = sampleRecord();
    await raw.put(record);
    const read = await store.get(record.chainKey);
    expect(read?.accessToken === record.accessToken && read.refreshToken === record.refreshToken).toBe(true);
    const tokens = fakeTokens();
    const written = await store.compareAndSet(record.chainKey, 1, {
      refreshToken: tokens.refreshToken,
      updatedAt: 2,
    });
    expect(written?.refreshToken === tokens.refreshToken).toBe(true);
    const sealed = (await raw.get(record.chainKey)) as TokenRecord;
    expect(sealed.refreshToken).toMatch(/^enc:v1:k1:/);
    // The field the update left out stays as it was until reencrypt() or the next refresh.
    expect(sealed.accessToken === record.accessToken).toBe(true);
  });
});

describe('withEncryption: compareAndSet binds tokens to the chain’s app as stored at the write', () => {
  test('a chain deleted and saved again for another app between the read and the write is re-sealed for it', async () => {
    const raw = createMemoryStore();
    const store = withEncryption(raw, ring);
    const record = sampleRecord();
    await store.put(record);
    let swapped = false;
    // Right after the decorator's read, another writer deletes the chain and saves it for another app:
    // the version restarts at 1, the one the compare-and-set expects.
    const racing: TokenStore = {
      ...raw,
      async get(chainKey) {
        const read = await raw.get(chainKey);
        if (!swapped) {
          swapped = true;
          await raw.delete({ chainKey });
          await withEncryption(raw, ring).put({ ...record, clientId: '9999.9999' });
        }
        return read;
      },
    };
    const tokens = fakeTokens();
    const written = await withEncryption(racing, ring).compareAndSet(record.chainKey, 1, {
      ...tokens,
      updatedAt: BASE_AT + 1,
    });
    expect(swapped).toBe(true);
    expect(written).toMatchObject({ clientId: '9999.9999', version: 3 });
    const read = await store.get(record.chainKey);
    expect(read?.accessToken === tokens.accessToken && read.refreshToken === tokens.refreshToken).toBe(true);
  });
});

describe('withEncryption: arguments', () => {
  test('refuses a second layer, a non-store, a non-ring and bad options', () => {
    const store = withEncryption(createMemoryStore(), ring);
    expect(() => withEncryption(store, ring)).toThrow(/already encrypted/);
    expect(() => withEncryption({} as never, ring)).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: expect.stringMatching(/needs a TokenStore/),
      }),
    );
    expect(() => withEncryption(createMemoryStore(), { primaryKeyId: 'k1' } as never)).toThrow(
      /keyRing must be a key ring made by createKeyRing/,
    );
    expect(() => withEncryption(createMemoryStore(), ring, { allowPlaintext: 'yes' } as never)).toThrow(
      /allowPlaintext must be a boolean/,
    );
  });

  test('passes the lock, recordIntent, delete and close through', async () => {
    const database = new Database(':memory:');
    try {
      const raw = createSqliteStore({ database });
      const store = withEncryption(raw, ring);
      expect(store.lock).toBe(raw.lock);
      await store.put(sampleRecord());
      const intent = { version: 1, fingerprint: 'hmac-sha256:k1:x', startedAt: 1, deadlineAt: 2 };
      expect(await store.recordIntent(sampleRecord().chainKey, 1, intent)).toBe(true);
      expect((await raw.get(sampleRecord().chainKey))?.refreshIntent).toEqual(intent);
      expect(await store.delete({ clientId: '1111.2222', installationId: 'T0000001' })).toBe(1);
      await store.close();
    } finally {
      database.close();
    }
  });
});

/**
 * The API key authenticator over a real (in-memory SQLite) server state: digests only, a found key
 * cached for `cacheMs` (so a warm request does no state round trip), and a revoked key refused once
 * that time has passed.
 */
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { digestApiKey, generateApiKey, generateApiKeyId } from '../src/api-keys.js';
import { createAuthenticator } from '../src/http/auth.js';
import { createSqliteState } from '../src/state/sqlite.js';
import type { ServerState } from '../src/types.js';

let database: Database.Database;
let state: ServerState;
let lookups: number;

beforeEach(async () => {
  database = new Database(':memory:');
  const real = createSqliteState({ database });
  await real.migrate();
  lookups = 0;
  // Counts the real state's lookups; every call goes through to SQLite.
  state = {
    ...real,
    findApiKey: (digest) => {
      lookups++;
      return real.findApiKey(digest);
    },
  };
});

afterEach(() => {
  database.close();
});

async function createKey(installations: string[] | '*'): Promise<{ id: string; secret: string }> {
  const secret = generateApiKey();
  const id = generateApiKeyId();
  await state.createApiKey({
    id,
    name: id,
    digest: digestApiKey(secret),
    installations,
    createdAt: 1,
    revokedAt: null,
  });
  return { id, secret };
}

describe('API keys', () => {
  test('a generated key is srk_ + 43 base64url characters; its digest is hex SHA-256', () => {
    const secret = generateApiKey();
    expect(secret).toMatch(/^srk_[A-Za-z0-9_-]{43}$/);
    expect(digestApiKey(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(generateApiKey() === secret).toBe(false);
  });

  test('a warm key is served from the cache; a revoked key is refused once the cache time has passed', async () => {
    let clock = 0;
    const auth = createAuthenticator({ state, cacheMs: 5_000, clock: () => clock });
    const { id, secret } = await createKey(['T1']);
    const key = await auth.authenticate(`Bearer ${secret}`);
    expect(key.id).toBe(id);
    await auth.authenticate(`Bearer ${secret}`);
    expect(lookups).toBe(1);

    await state.revokeApiKey(id, 2);
    clock = 4_999;
    expect((await auth.authenticate(`Bearer ${secret}`)).id).toBe(id);
    clock = 5_001;
    await expect(auth.authenticate(`Bearer ${secret}`)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(lookups).toBe(2);
  });

  test('an unknown key is looked up every time (a key created a moment ago works at once)', async () => {
    const auth = createAuthenticator({ state, cacheMs: 5_000 });
    const secret = generateApiKey();
    await expect(auth.authenticate(`Bearer ${secret}`)).rejects.toMatchObject({ code: 'unauthorized' });
    await state.createApiKey({
      id: generateApiKeyId(),
      name: 'late',
      digest: digestApiKey(secret),
      installations: '*',
      createdAt: 1,
      revokedAt: null,
    });
    expect((await auth.authenticate(`Bearer ${secret}`)).installations).toBe('*');
  });

  test('authorize: a limited key reads only its installations; "*" reads all; only "*" may manage', async () => {
    const auth = createAuthenticator({ state });
    const limited = await auth.authenticate(`Bearer ${(await createKey(['T1', 'A1:T2'])).secret}`);
    const all = await auth.authenticate(`Bearer ${(await createKey('*')).secret}`);
    expect(() => auth.authorize(limited, 'T1')).not.toThrow();
    expect(() => auth.authorize(limited, 'A1:T2')).not.toThrow();
    expect(() => auth.authorize(limited, 'T2')).toThrow(expect.objectContaining({ code: 'forbidden' }));
    expect(() => auth.authorize(all, 'T9')).not.toThrow();
    expect(() => auth.authorizeAll(limited)).toThrow(expect.objectContaining({ code: 'forbidden' }));
    expect(() => auth.authorizeAll(all)).not.toThrow();
  });

  test('a closed state → backend_unavailable, not unauthorized', async () => {
    const auth = createAuthenticator({ state });
    const { secret } = await createKey('*');
    database.close();
    await expect(auth.authenticate(`Bearer ${secret}`)).rejects.toMatchObject({
      code: 'backend_unavailable',
    });
    database = new Database(':memory:');
  });
});

import { afterEach, describe, expect, test } from 'vitest';
import { withEncryption } from '../src/crypto/encrypted-store.js';
import { createKeyRing, generateKey } from '../src/crypto/key-ring.js';
import { createRotator } from '../src/manager.js';
import { createMemoryStore } from '../src/store/memory.js';
import type { RefreshIntent, TokenRecord } from '../src/store/types.js';
import { expireSoon, type Harness, harness, refreshCalls } from './helpers/setup.js';

const K1 = generateKey();
const K2 = generateKey();
const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1 } });
const KEY_MATERIAL = [
  K1,
  K2,
  Buffer.from(K1, 'base64').toString('hex'),
  Buffer.from(K1, 'base64').toString('base64url'),
];

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Fails when any of `texts` holds key material (without printing it). */
function assertNoKeys(what: string, ...texts: string[]): void {
  for (const text of texts) {
    expect(
      KEY_MATERIAL.some((key) => text.includes(key)),
      `${what} holds key material`,
    ).toBe(false);
  }
}

describe('createRotator({ encryption })', () => {
  test('works end to end; tokens at rest are encrypted; the intent fingerprint is the ring’s HMAC', async () => {
    const raw = createMemoryStore();
    let during: RefreshIntent | null | undefined;
    let presented: string | undefined;
    h = await harness({
      store: raw,
      rotator: {
        encryption: ring,
        fetch: async (url, init) => {
          if (String(url).endsWith('oauth.v2.access')) {
            presented = new URLSearchParams(String(init?.body)).get('refresh_token') ?? undefined;
            during = (await raw.get(`${h?.slack.clientId}:T1:bot`))?.refreshIntent;
          }
          return fetch(url, init);
        },
      },
    });
    const [chainKey] = (await h.installWith({ teamId: 'T1', withUserToken: true, userId: 'U1' }, 0)) as [
      string,
    ];
    const token = await h.rotator.getToken({ teamId: 'T1' });
    expect(h.slack.peekAccessToken(token)).toBe('active');
    expect(refreshCalls(h.slack)).toBe(1);

    // The write-ahead intent carried an HMAC of the refresh token presented, never a plain hash.
    expect(during?.fingerprint).toMatch(/^hmac-sha256:k1:[A-Za-z0-9_-]{43}$/);
    expect(presented).toBeDefined();
    expect(during?.fingerprint === ring.fingerprint(presented as string)).toBe(true);

    const sealed = (await raw.get(chainKey)) as TokenRecord;
    expect(JSON.stringify((await raw.list()).records).includes('xox'), 'raw records hold a token').toBe(
      false,
    );
    expect(sealed.refreshIntent).toBeNull();
    expect(sealed.version).toBe(2);
    const opened = await withEncryption(raw, ring).get(chainKey);
    expect(opened?.accessToken === token).toBe(true);
    expect(h.slack.peekRefreshToken(opened?.refreshToken as string)).toBe('active');

    // The user chain and the sweeper (list) go through the same decorator.
    const user = await h.rotator.getToken({ teamId: 'T1', chain: { userId: 'U1' } });
    expect(h.slack.peekAccessToken(user)).toBe('active');
    for (const key of [chainKey, `${h.slack.clientId}:T1:user:U1`]) await expireSoon(raw, key, 1_000);
    const swept = await h.rotator.sweep();
    expect(swept).toMatchObject({ checked: 2, refreshed: 2, failed: 0 });
    expect(refreshCalls(h.slack)).toBe(4);

    for (const line of h.logger.lines)
      assertNoKeys(`log line "${line.msg}"`, line.msg, JSON.stringify(line.obj));
  });

  test('a rotator whose ring lacks the key fails with key_not_found naming the key id; no token or key leaks', async () => {
    const raw = createMemoryStore();
    h = await harness({ store: raw, rotator: { encryption: ring } });
    await h.installWith({ teamId: 'T1' }, 0);
    const stranger = h.another({ encryption: createKeyRing({ primaryKeyId: 'k2', keys: { k2: K2 } }) });
    const errors: unknown[] = [];
    for (const run of [
      () => stranger.getToken({ teamId: 'T1' }),
      () => stranger.refresh({ teamId: 'T1' }, { force: true }),
      () => stranger.withToken({ teamId: 'T1' }, () => 'unused'),
    ]) {
      errors.push(await run().catch((error: unknown) => error));
    }
    for (const error of errors) {
      expect(error).toMatchObject({
        name: 'StorageError',
        code: 'key_not_found',
        chainKey: `${h.slack.clientId}:T1:bot`,
        message: expect.stringMatching(/key "k1", not in the key ring/),
      });
      const { message, cause } = error as Error;
      assertNoKeys('an error', message, JSON.stringify(error), String(cause));
      expect(/xox[a-z]?[.-]/.test(`${message} ${String(cause)}`), 'an error holds a token').toBe(false);
    }
    expect(refreshCalls(h.slack)).toBe(0);
    for (const line of h.logger.lines)
      assertNoKeys(`log line "${line.msg}"`, line.msg, JSON.stringify(line.obj));
    // h.close() scans every log line, event and error for token material.
  });

  test('validates the option', () => {
    const base = { clientId: 'A1', clientSecret: 'secret', store: createMemoryStore() };
    expect(() => createRotator({ ...base, encryption: { primaryKeyId: 'k1' } as never })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: '[slack-rotator] encryption must be a key ring made by createKeyRing()',
      }),
    );
    const wrapped = withEncryption(createMemoryStore(), ring);
    expect(() => createRotator({ ...base, store: wrapped, encryption: ring })).toThrow(/already wraps/);
    // A store wrapped by the caller, without the option, is fine.
    expect(() => createRotator({ ...base, store: wrapped })).not.toThrow();
  });
});

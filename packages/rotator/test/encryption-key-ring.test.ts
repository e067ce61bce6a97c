import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { createKeyRing, generateKey } from '../src/crypto/key-ring.js';
import { StorageError } from '../src/errors.js';

const K1 = generateKey();
const K2 = generateKey();
const TOKEN = 'xoxe-1-fake-refresh-token';

function caught(run: () => unknown): Error & { code?: string } {
  try {
    run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

/** Flips one bit of the decoded byte at `index` of the `part`-th `:` part of an encrypted value. */
function flip(value: string, part: number, index: number): string {
  const parts = value.split(':');
  const bytes = Buffer.from(parts[part] as string, 'base64url');
  bytes[index] = (bytes[index] as number) ^ 1;
  parts[part] = bytes.toString('base64url');
  return parts.join(':');
}

describe('createKeyRing', () => {
  test('accepts base64, base64url and raw 32-byte keys; generateKey gives 32 random bytes', () => {
    const raw = randomBytes(32);
    const ring = createKeyRing({
      primaryKeyId: 'b64',
      keys: { b64: K1, url: raw.toString('base64url'), bytes: new Uint8Array(raw), spaced: `${K2}\n` },
    });
    expect(ring.primaryKeyId).toBe('b64');
    expect(['b64', 'url', 'bytes', 'spaced', 'nope'].map((id) => ring.has(id))).toEqual([
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(Buffer.from(generateKey(), 'base64')).toHaveLength(32);
    expect(generateKey()).not.toBe(generateKey());
    // The same bytes as base64url and as a Uint8Array are one key.
    const url = createKeyRing({ primaryKeyId: 'a', keys: { a: raw.toString('base64url') } });
    const bytes = createKeyRing({ primaryKeyId: 'a', keys: { a: raw } });
    expect(bytes.decrypt(url.encrypt(TOKEN, 'aad'), 'aad')).toBe(TOKEN);
  });

  test.each([
    ['no options', undefined, 'ERR_INVALID_ARG_TYPE', /needs \{ primaryKeyId, keys \}/],
    [
      'keys not an object',
      { primaryKeyId: 'a', keys: 'x' },
      'ERR_INVALID_ARG_TYPE',
      /keys must be an object/,
    ],
    [
      'a bad key id',
      { primaryKeyId: 'a', keys: { 'a:b': K1 } },
      'ERR_INVALID_ARG_VALUE',
      /key id must match/,
    ],
    [
      'a 33-character key id',
      { primaryKeyId: 'a', keys: { ['x'.repeat(33)]: K1 } },
      'ERR_INVALID_ARG_VALUE',
      /key id/,
    ],
    [
      'a short key',
      { primaryKeyId: 'a', keys: { a: randomBytes(16) } },
      'ERR_INVALID_ARG_VALUE',
      /keys\.a must be 32 bytes \(AES-256\), got 16/,
    ],
    [
      'a key that is not base64',
      { primaryKeyId: 'a', keys: { a: `${K1.slice(0, 40)}!!!!` } },
      'ERR_INVALID_ARG_VALUE',
      /keys\.a must be base64/,
    ],
    [
      'a key of the wrong type',
      { primaryKeyId: 'a', keys: { a: 42 } },
      'ERR_INVALID_ARG_TYPE',
      /keys\.a must be a Uint8Array/,
    ],
    [
      'a primary key id not in keys',
      { primaryKeyId: 'k9', keys: { a: K1 } },
      'ERR_INVALID_ARG_VALUE',
      /primaryKeyId "k9" is not in keys/,
    ],
    [
      'an invalid primary key id',
      { primaryKeyId: '', keys: { a: K1 } },
      'ERR_INVALID_ARG_VALUE',
      /primaryKeyId must be a key id/,
    ],
  ])('fails fast on %s, naming no key material', (_what, options, code, message) => {
    const error = caught(() => createKeyRing(options as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(/^\[slack-rotator\] /);
    expect(error.message).toMatch(message);
    for (const key of [K1, K1.slice(0, 40)]) expect(error.message.includes(key)).toBe(false);
  });

  test('an invalid key id is not echoed (it may be a key pasted in the wrong place)', () => {
    const error = caught(() => createKeyRing({ primaryKeyId: 'a', keys: { [K1]: K2 } }));
    expect(error.message.includes(K1)).toBe(false);
    expect(error.message.includes(K2)).toBe(false);
  });

  test('the ring shows no key material when logged or serialised', () => {
    const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1, k2: K2 } });
    const shown = `${inspect(ring, { depth: 10, showHidden: true })} ${JSON.stringify(ring)}`;
    for (const key of [K1, K2, Buffer.from(K1, 'base64').toString('hex')]) {
      expect(shown.includes(key)).toBe(false);
    }
    expect(shown).toMatch(/primaryKeyId/);
  });
});

describe('KeyRing encrypt / decrypt', () => {
  const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1 } });

  test('round-trips under the primary key in the enc:v1 format, a fresh IV per value', () => {
    const a = ring.encrypt(TOKEN, 'aad');
    const b = ring.encrypt(TOKEN, 'aad');
    expect(a).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a.split(':')[3]).not.toBe(b.split(':')[3]);
    expect(a.includes(TOKEN)).toBe(false);
    expect(ring.decrypt(a, 'aad')).toBe(TOKEN);
    expect(ring.decrypt(b, 'aad')).toBe(TOKEN);
    expect(ring.keyIdOf(a)).toBe('k1');
    expect(ring.keyIdOf(TOKEN)).toBeUndefined();
    expect(ring.keyIdOf('enc:v1:k1:short:x')).toBeUndefined();
  });

  test.each([
    ['other associated data', (v: string) => v, 'aad2'],
    ['a flipped ciphertext byte', (v: string) => flip(v, 4, 0), 'aad'],
    [
      'a flipped tag byte',
      (v: string) => flip(v, 4, -1 + Buffer.from(v.split(':')[4] as string, 'base64url').length),
      'aad',
    ],
    ['a flipped IV byte', (v: string) => flip(v, 3, 5), 'aad'],
    ['a truncated value', (v: string) => v.slice(0, -4), 'aad'],
  ])('%s fails with decryption_failed naming the key id', (_what, tamper, aad) => {
    const value = tamper(ring.encrypt(TOKEN, 'aad'));
    const error = caught(() => ring.decrypt(value, aad));
    expect(error).toBeInstanceOf(StorageError);
    expect(error.code).toBe('decryption_failed');
    expect(error.message).toMatch(/key "k1"|well-formed/);
    expect(error.message.includes(TOKEN)).toBe(false);
    expect(error.message.includes(K1)).toBe(false);
  });

  test('a non-canonical base64url body (changed padding bits) is refused, not silently read', () => {
    const value = ring.encrypt(TOKEN, 'aad');
    const parts = value.split(':');
    const body = parts[4] as string;
    // Toggle the low bit of the last character: unused bits when the length is not a multiple of 3.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(body.at(-1) as string);
    parts[4] = body.slice(0, -1) + alphabet[last ^ 1];
    const changed = parts.join(':');
    // 25 token bytes + 16 tag bytes = 41: the last character carries 2 unused bits.
    expect(Buffer.from(parts[4] as string, 'base64url').equals(Buffer.from(body, 'base64url'))).toBe(true);
    expect(() => ring.decrypt(changed, 'aad')).toThrow(/well-formed/);
  });

  test('a value under a key the ring lacks is key_not_found naming the key id; a wrong key under the same id fails', () => {
    const other = createKeyRing({ primaryKeyId: 'k2', keys: { k2: K2 } });
    const error = caught(() => other.decrypt(ring.encrypt(TOKEN, 'aad'), 'aad'));
    expect(error).toMatchObject({ name: 'StorageError', code: 'key_not_found' });
    expect(error.message).toMatch(/key "k1", not in the key ring/);
    const impostor = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K2 } });
    expect(caught(() => impostor.decrypt(ring.encrypt(TOKEN, 'aad'), 'aad'))).toMatchObject({
      code: 'decryption_failed',
      message: expect.stringMatching(/key "k1" failed authentication/),
    });
  });

  test('plaintext, other formats and garbage are decryption_failed', () => {
    for (const value of [
      TOKEN,
      'enc:v2:k1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA',
      'enc:',
      'enc:v1:k1:a:b:c',
    ]) {
      expect(
        caught(() => ring.decrypt(value, 'aad')),
        value.slice(0, 6),
      ).toMatchObject({
        code: 'decryption_failed',
      });
    }
  });
});

describe('KeyRing fingerprint', () => {
  test('is an HMAC under an HKDF subkey of the primary key, named by key id', () => {
    const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1, k2: K2 } });
    const fingerprint = ring.fingerprint(TOKEN);
    expect(fingerprint).toMatch(/^hmac-sha256:k1:[A-Za-z0-9_-]{43}$/);
    expect(ring.fingerprint(TOKEN)).toBe(fingerprint);
    expect(ring.fingerprint(`${TOKEN}x`)).not.toBe(fingerprint);
    expect(fingerprint.includes(TOKEN)).toBe(false);
    // Another primary key gives another fingerprint; the same key under the same id gives the same.
    expect(createKeyRing({ primaryKeyId: 'k2', keys: { k1: K1, k2: K2 } }).fingerprint(TOKEN)).toMatch(
      /^hmac-sha256:k2:/,
    );
    expect(createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1 } }).fingerprint(TOKEN)).toBe(fingerprint);
  });

  test('does not use the encryption key itself as the HMAC key', async () => {
    const { createHmac } = await import('node:crypto');
    const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: K1 } });
    const direct = createHmac('sha256', Buffer.from(K1, 'base64')).update(TOKEN).digest('base64url');
    expect(ring.fingerprint(TOKEN)).not.toBe(`hmac-sha256:k1:${direct}`);
  });
});

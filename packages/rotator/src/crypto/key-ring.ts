import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { invalidArgument, StorageError } from '../errors.js';

/** Options of {@link createKeyRing}. */
export interface KeyRingOptions {
  /** The key new values are encrypted under (and intent fingerprints are derived from). */
  primaryKeyId: string;
  /**
   * Every key that may still be needed to decrypt, by key id (`[A-Za-z0-9_-]{1,32}`): 32 raw bytes,
   * or their base64 / base64url text (as {@link generateKey} makes). Keep retired keys here until
   * {@link reencrypt} has moved every value to the primary key.
   */
  keys: Readonly<Record<string, Uint8Array | string>>;
}

/**
 * AES-256-GCM keys by id, with one primary. A plain object that holds its keys as `KeyObject`s, so
 * logging or serialising it shows no key material.
 */
export interface KeyRing {
  /** The id of the key new values are encrypted under. */
  readonly primaryKeyId: string;
  /** Whether the ring holds the key `keyId`. */
  has(keyId: string): boolean;
  /**
   * Encrypts `plaintext` under the primary key with a random 96-bit IV, binding `aad` (associated
   * data: authenticated, not stored). Returns `enc:v1:<keyId>:<iv>:<ciphertext+tag>` (base64url).
   */
  encrypt(plaintext: string, aad: string): string;
  /**
   * Decrypts a value made by {@link KeyRing.encrypt} with the same `aad`.
   * @throws StorageError `key_not_found` when the ring lacks the value's key (the message names the key id).
   * @throws StorageError `decryption_failed` when the value is malformed, not encrypted, tampered
   *   with, or was encrypted with other associated data (the message names the key id, if any).
   */
  decrypt(value: string, aad: string): string;
  /** The key id of an encrypted value, or `undefined` when `value` is not a well-formed `enc:v1:` value. */
  keyIdOf(value: string): string | undefined;
  /**
   * A keyed fingerprint of a token, `hmac-sha256:<keyId>:<base64url>`: HMAC-SHA-256 under a subkey
   * derived from the primary key with HKDF (never the encryption key itself). Equal tokens give equal
   * fingerprints under one primary key; without the key, a fingerprint reveals nothing of the token.
   */
  fingerprint(token: string): string;
}

/** The prefix of every encrypted value (`enc:v1:…`). */
export const ENCRYPTED_PREFIX = 'enc:';
const FORMAT = 'v1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const KEY_TEXT = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FINGERPRINT_INFO = 'slack-rotator/v1/intent-fingerprint';

/**
 * A new random 256-bit key as base64, for operators to put in their secret store.
 *
 * @example
 * // node -e "import('slack-rotator').then((m) => console.log(m.generateKey()))"
 * const ring = createKeyRing({ primaryKeyId: 'k1', keys: { k1: generateKey() } });
 */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** The 32 key bytes of one ring entry; the message names the key id only, never the value. */
function keyBytes(keyId: string, value: unknown): Buffer {
  let bytes: Buffer;
  if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (!KEY_TEXT.test(text)) {
      throw invalidArgument(`keys.${keyId} must be base64 or base64url text of ${KEY_BYTES} bytes`);
    }
    bytes = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  } else {
    throw invalidArgument(
      `keys.${keyId} must be a Uint8Array or a base64 string of ${KEY_BYTES} bytes`,
      'ERR_INVALID_ARG_TYPE',
    );
  }
  if (bytes.length !== KEY_BYTES) {
    throw invalidArgument(`keys.${keyId} must be ${KEY_BYTES} bytes (AES-256), got ${bytes.length}`);
  }
  return bytes;
}

/** Decodes strict, canonical base64url (a re-encoding must give the same text). */
function decodeStrict(text: string | undefined): Buffer | undefined {
  if (text === undefined || !BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

interface Envelope {
  keyId: string;
  iv: Buffer;
  body: Buffer;
}

/** Splits `enc:v1:<keyId>:<iv>:<body>`; `undefined` when it is not exactly that shape. */
function parse(value: string): Envelope | undefined {
  const parts = value.split(':');
  if (parts.length !== 5 || parts[0] !== 'enc' || parts[1] !== FORMAT) return undefined;
  const keyId = parts[2] as string;
  const iv = decodeStrict(parts[3]);
  const body = decodeStrict(parts[4]);
  if (!KEY_ID.test(keyId) || iv?.length !== IV_BYTES || body === undefined || body.length < TAG_BYTES) {
    return undefined;
  }
  return { keyId, iv, body };
}

/**
 * Builds a key ring for {@link withEncryption} and the `encryption` option of `createRotator`.
 *
 * @example
 * const keyRing = createKeyRing({
 *   primaryKeyId: '2025-06',
 *   keys: { '2025-06': process.env.TOKEN_KEY_2025_06!, '2024-12': process.env.TOKEN_KEY_2024_12! },
 * });
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for an invalid key id, a key
 *   that is not 32 bytes, or a primary key id the ring lacks. Messages name key ids, never keys.
 */
export function createKeyRing(options: KeyRingOptions): KeyRing {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('createKeyRing needs { primaryKeyId, keys }', 'ERR_INVALID_ARG_TYPE');
  }
  const { primaryKeyId, keys } = options;
  if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
    throw invalidArgument('keys must be an object of key id → key', 'ERR_INVALID_ARG_TYPE');
  }
  const ring = new Map<string, KeyObject>();
  for (const [keyId, value] of Object.entries(keys)) {
    // An invalid id is not echoed: it could be a key pasted in the wrong place.
    if (!KEY_ID.test(keyId)) throw invalidArgument('keys: every key id must match [A-Za-z0-9_-]{1,32}');
    ring.set(keyId, createSecretKey(keyBytes(keyId, value)));
  }
  if (typeof primaryKeyId !== 'string' || !KEY_ID.test(primaryKeyId)) {
    throw invalidArgument('primaryKeyId must be a key id matching [A-Za-z0-9_-]{1,32}');
  }
  const primary = ring.get(primaryKeyId);
  if (primary === undefined) throw invalidArgument(`primaryKeyId "${primaryKeyId}" is not in keys`);
  const fingerprintKey = createSecretKey(
    Buffer.from(hkdfSync('sha256', primary, Buffer.alloc(0), FINGERPRINT_INFO, KEY_BYTES)),
  );

  const failed = (code: 'decryption_failed' | 'key_not_found', message: string, cause?: unknown) =>
    new StorageError(code, `[slack-rotator] ${message}`, cause === undefined ? {} : { cause });

  return {
    primaryKeyId,

    has: (keyId) => ring.has(keyId),

    encrypt(plaintext, aad) {
      if (typeof plaintext !== 'string' || typeof aad !== 'string') {
        throw invalidArgument('encrypt needs a plaintext string and an aad string', 'ERR_INVALID_ARG_TYPE');
      }
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', primary, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `enc:${FORMAT}:${primaryKeyId}:${iv.toString('base64url')}:${body.toString('base64url')}`;
    },

    decrypt(value, aad) {
      if (typeof value !== 'string' || typeof aad !== 'string') {
        throw invalidArgument('decrypt needs a value string and an aad string', 'ERR_INVALID_ARG_TYPE');
      }
      if (!value.startsWith(ENCRYPTED_PREFIX))
        throw failed('decryption_failed', 'the value is not encrypted');
      const envelope = parse(value);
      if (envelope === undefined) {
        throw failed('decryption_failed', `the value is not a well-formed enc:${FORMAT} value`);
      }
      const key = ring.get(envelope.keyId);
      if (key === undefined) {
        throw failed(
          'key_not_found',
          `the value is encrypted under key "${envelope.keyId}", not in the key ring`,
        );
      }
      const tagAt = envelope.body.length - TAG_BYTES;
      const decipher = createDecipheriv('aes-256-gcm', key, envelope.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(envelope.body.subarray(tagAt));
      try {
        return Buffer.concat([decipher.update(envelope.body.subarray(0, tagAt)), decipher.final()]).toString(
          'utf8',
        );
      } catch (error) {
        throw failed(
          'decryption_failed',
          `the value under key "${envelope.keyId}" failed authentication (wrong key, tampered, or moved from another field or chain)`,
          error,
        );
      }
    },

    keyIdOf: (value) => (typeof value === 'string' ? parse(value)?.keyId : undefined),

    fingerprint(token) {
      if (typeof token !== 'string')
        throw invalidArgument('fingerprint needs a string', 'ERR_INVALID_ARG_TYPE');
      const mac = createHmac('sha256', fingerprintKey).update(token, 'utf8').digest('base64url');
      return `hmac-sha256:${primaryKeyId}:${mac}`;
    },
  };
}

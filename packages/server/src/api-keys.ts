/**
 * API keys of the broker: a random 256-bit secret shown once (`srk_…`), stored only as its SHA-256
 * digest, compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `srk_` and 32 random bytes in base64url (43 characters). */
export const API_KEY_PATTERN = /^srk_[A-Za-z0-9_-]{43}$/;

/** A new API key secret: `srk_` + 32 random bytes, base64url. Show it once; store its digest. */
export function generateApiKey(): string {
  return `srk_${randomBytes(32).toString('base64url')}`;
}

/** A new short public key id (`key_…`), shown in listings and logs instead of the secret. */
export function generateApiKeyId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

/** The hex SHA-256 digest of an API key secret, as `ServerState` stores it. */
export function digestApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time equality of two hex digests (false when their lengths differ). */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

import { invalidArgument, isRotatorError, StorageError } from '../errors.js';
import { checkChainKey, checkNewRecord, checkUpdate, checkVersion } from '../store/record.js';
import type {
  CompareAndSetOptions,
  ListPage,
  NewTokenRecord,
  TokenRecord,
  TokenStore,
  TokenUpdate,
} from '../store/types.js';
import { ENCRYPTED_PREFIX, type KeyRing } from './key-ring.js';

/** The record fields that hold tokens: encrypted at rest, each bound to its own name. */
export const TOKEN_FIELDS = ['accessToken', 'refreshToken', 'fallbackRefreshToken'] as const;

/** One of {@link TOKEN_FIELDS}. */
export type TokenField = (typeof TOKEN_FIELDS)[number];

/** Options of {@link withEncryption}. */
export interface EncryptionOptions {
  /**
   * Serve token fields stored unencrypted (written before encryption was turned on) as they are.
   * Default `false`: such a value is a `decryption_failed` error. Meant for the migration only:
   * turn it on, run {@link reencrypt}, turn it off. Writes are always encrypted.
   */
  allowPlaintext?: boolean;
}

const INNER = Symbol.for('slack-rotator.encryptedStore.inner');

/**
 * The store an encrypted store wraps (what {@link reencrypt} pages through), or `undefined` when
 * `store` is not one.
 */
export function innerStoreOf(store: TokenStore): TokenStore | undefined {
  return (store as unknown as Record<symbol, TokenStore | undefined>)[INNER];
}

/**
 * The associated data of one token field: app identity (the record's `clientId`), chain key and
 * field name, JSON-encoded so no two triples collide. `clientId` rather than `appId`: `appId` may
 * be `null` at install and filled in by a later refresh answer, which would orphan every ciphertext
 * written before; `clientId` never changes and names the same app.
 */
export function associatedData(clientId: string, chainKey: string, field: TokenField): string {
  return JSON.stringify(['slack-rotator/token/v1', clientId, chainKey, field]);
}

/**
 * Opens one stored token field. Errors name the chain, the field and the key id — never a value.
 * @throws StorageError `decryption_failed` / `key_not_found`.
 */
export function openField(
  keyRing: KeyRing,
  record: Pick<TokenRecord, 'clientId' | 'chainKey'>,
  field: TokenField,
  value: string,
  allowPlaintext: boolean,
): string {
  if (!value.startsWith(ENCRYPTED_PREFIX)) {
    if (allowPlaintext) return value;
    throw new StorageError(
      'decryption_failed',
      `[slack-rotator] ${field} of chain ${record.chainKey} is stored unencrypted; run reencrypt(), or pass { allowPlaintext: true } while migrating`,
      { chainKey: record.chainKey },
    );
  }
  try {
    return keyRing.decrypt(value, associatedData(record.clientId, record.chainKey, field));
  } catch (error) {
    if (!isRotatorError(error)) throw error;
    const keyId = keyRing.keyIdOf(value);
    throw new StorageError(
      error.code,
      `[slack-rotator] cannot decrypt ${field} of chain ${record.chainKey}${keyId === undefined ? '' : ` (key "${keyId}")`}: ${error.message.replace('[slack-rotator] ', '')}`,
      { chainKey: record.chainKey, cause: error },
    );
  }
}

/** Seals the token fields present in `fields` for the chain's identity. */
function sealFields<T extends Partial<Record<TokenField, string | null>>>(
  keyRing: KeyRing,
  clientId: string,
  chainKey: string,
  fields: T,
): T {
  const sealed: Record<string, unknown> = { ...fields };
  for (const field of TOKEN_FIELDS) {
    const value = fields[field];
    if (typeof value === 'string') {
      sealed[field] = keyRing.encrypt(value, associatedData(clientId, chainKey, field));
    }
  }
  return sealed as T;
}

const carriesTokens = (update: TokenUpdate) =>
  TOKEN_FIELDS.some((field) => typeof update[field] === 'string');

/**
 * Wraps a `TokenStore` so that the token fields (`accessToken`, `refreshToken`,
 * `fallbackRefreshToken`) are encrypted at rest with AES-256-GCM under the ring's primary key, and
 * decrypted on the way out (`get`, `list`, and the records `put` and `compareAndSet` return). Every
 * other field — ids, expiry, version, status, the intent's fingerprint — stays plain, so listing,
 * indexes and compare-and-set work as before. `recordIntent`, `delete`, `close` and `lock` pass
 * through unchanged. The wrapper passes the `TokenStore` conformance suite.
 *
 * Each value is `enc:v1:<keyId>:<iv>:<ciphertext+tag>`, with app identity (`clientId`) + chain key +
 * field name as associated data: a ciphertext moved to another chain's row, or swapped between the
 * access and refresh fields of one row, fails to decrypt. A value under a key the ring no longer has
 * is `key_not_found`; never an empty token. Values under older keys of the ring are read as they are
 * and rewritten under the primary key by {@link reencrypt} (or by the chain's next refresh).
 *
 * A `compareAndSet` that writes a token reads the chain first (its `clientId` is part of the
 * associated data): one extra read per refresh.
 *
 * @example
 * const store = withEncryption(createSqliteStore({ database }), keyRing);
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) when `store` is not a TokenStore, is already encrypted,
 *   or `keyRing` is not a key ring.
 * @throws StorageError (from the returned store) `decryption_failed` for a tampered, malformed or (by
 *   default) unencrypted value; `key_not_found` for a value under a key the ring lacks. Messages name
 *   the chain key, the field and the key id.
 */
export function withEncryption(
  store: TokenStore,
  keyRing: KeyRing,
  options: EncryptionOptions = {},
): TokenStore {
  checkStore(store, 'withEncryption');
  if (innerStoreOf(store) !== undefined) {
    throw invalidArgument('the store is already encrypted; wrap the raw store once', 'ERR_INVALID_ARG_TYPE');
  }
  checkKeyRing(keyRing);
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  if (options.allowPlaintext !== undefined && typeof options.allowPlaintext !== 'boolean') {
    throw invalidArgument('options.allowPlaintext must be a boolean', 'ERR_INVALID_ARG_TYPE');
  }
  const allowPlaintext = options.allowPlaintext === true;

  function open(record: TokenRecord): TokenRecord {
    const opened = { ...record };
    for (const field of TOKEN_FIELDS) {
      const value = record[field];
      if (typeof value === 'string') opened[field] = openField(keyRing, record, field, value, allowPlaintext);
    }
    return opened;
  }

  async function compareAndSet(
    chainKey: string,
    expectedVersion: number,
    update: TokenUpdate,
    options?: CompareAndSetOptions,
  ): Promise<TokenRecord | undefined> {
    checkChainKey(chainKey);
    checkVersion(expectedVersion);
    checkUpdate(update);
    if (!carriesTokens(update)) {
      const stored = await store.compareAndSet(chainKey, expectedVersion, update, options);
      return stored === undefined ? undefined : open(stored);
    }
    const current = await store.get(chainKey);
    // At another version the write would be refused anyway; refusing here writes nothing.
    if (current === undefined || current.version !== expectedVersion) return undefined;
    const stored = await store.compareAndSet(
      chainKey,
      expectedVersion,
      sealFields(keyRing, current.clientId, chainKey, update),
      options,
    );
    if (stored === undefined || stored.clientId === current.clientId) {
      return stored === undefined ? undefined : open(stored);
    }
    // The chain was deleted and saved again for another app between the read and the write (the
    // version restarted at the one expected): re-seal for the identity now stored.
    const repaired = await store.compareAndSet(
      chainKey,
      stored.version,
      sealFields(keyRing, stored.clientId, chainKey, update),
      options,
    );
    if (repaired === undefined) {
      throw new StorageError(
        'decryption_failed',
        `[slack-rotator] chain ${chainKey} changed app while its tokens were written; save the installation again`,
        { chainKey },
      );
    }
    return open(repaired);
  }

  const encrypted: TokenStore = {
    get: async (chainKey) => {
      const record = await store.get(chainKey);
      return record === undefined ? undefined : open(record);
    },

    async put(record: NewTokenRecord): Promise<TokenRecord> {
      checkNewRecord(record);
      return open(await store.put(sealFields(keyRing, record.clientId, record.chainKey, record)));
    },

    compareAndSet,

    recordIntent: (chainKey, expectedVersion, intent) =>
      store.recordIntent(chainKey, expectedVersion, intent),

    async list(query): Promise<ListPage> {
      const page = await store.list(query);
      return { records: page.records.map(open), cursor: page.cursor };
    },

    delete: (query) => store.delete(query),

    close: () => store.close(),

    ...(store.lock === undefined ? {} : { lock: store.lock }),
  };
  Object.defineProperty(encrypted, INNER, { value: store });
  return encrypted;
}

/** Fails fast unless `store` has every `TokenStore` method. */
export function checkStore(store: unknown, what: string): asserts store is TokenStore {
  const methods = ['get', 'put', 'compareAndSet', 'recordIntent', 'list', 'delete', 'close'];
  if (
    store === null ||
    typeof store !== 'object' ||
    !methods.every((method) => typeof (store as Record<string, unknown>)[method] === 'function')
  ) {
    throw invalidArgument(`${what} needs a TokenStore (${methods.join(', ')})`, 'ERR_INVALID_ARG_TYPE');
  }
}

/** Fails fast unless `keyRing` looks like a {@link KeyRing}. */
export function checkKeyRing(keyRing: unknown, name = 'keyRing'): asserts keyRing is KeyRing {
  const methods = ['has', 'encrypt', 'decrypt', 'keyIdOf', 'fingerprint'];
  if (
    keyRing === null ||
    typeof keyRing !== 'object' ||
    typeof (keyRing as Record<string, unknown>).primaryKeyId !== 'string' ||
    !methods.every((method) => typeof (keyRing as Record<string, unknown>)[method] === 'function')
  ) {
    throw invalidArgument(`${name} must be a key ring made by createKeyRing()`, 'ERR_INVALID_ARG_TYPE');
  }
}

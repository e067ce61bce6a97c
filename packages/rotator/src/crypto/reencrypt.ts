import { invalidArgument, isRotatorError } from '../errors.js';
import { refreshLockName } from '../lock/names.js';
import type { Lease, Lock } from '../lock/types.js';
import type { TokenRecord, TokenStore, TokenUpdate } from '../store/types.js';
import {
  associatedData,
  checkKeyRing,
  checkStore,
  innerStoreOf,
  openField,
  TOKEN_FIELDS,
} from './encrypted-store.js';
import { ENCRYPTED_PREFIX, type KeyRing } from './key-ring.js';

/** Options of {@link reencrypt}. */
export interface ReencryptOptions {
  /** Records read per `list` page (1–1000). Default 100. */
  batchSize?: number;
  /** Stops the run between records; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each batch with the counts so far. */
  onProgress?: (progress: ReencryptProgress) => void;
  /**
   * The lock the rotators refresh under, taken as `refresh:<chainKey>` around each rewrite so that a
   * refresh in flight finishes first. Default: the store's own lock (`store.lock`); without either,
   * rewrites rely on compare-and-set alone.
   */
  lock?: Lock;
  /** How long to wait for a chain's refresh lock (ms). Default 60 000. */
  lockWaitMs?: number;
  /** The clock for `updatedAt` (epoch ms). Default `Date.now`. */
  now?: () => number;
}

/** Why a chain could not be re-encrypted. */
export type ReencryptFailureCode = 'decryption_failed' | 'key_not_found' | 'lock_timeout' | 'contended';

/** One chain {@link reencrypt} could not handle. Names the chain, never a value. */
export interface ReencryptFailure {
  chainKey: string;
  code: ReencryptFailureCode;
}

/** Counts of a {@link reencrypt} run so far. */
export interface ReencryptProgress {
  /** Chains looked at. */
  scanned: number;
  /** Chains rewritten under the primary key (older keys, or plaintext left from before encryption). */
  reencrypted: number;
  /** Chains whose token fields were already under the primary key (and decrypt). */
  alreadyCurrent: number;
  /** Chains that could not be read or rewritten (see `failures`). */
  failed: number;
  /** Chains deleted while the run was at them. */
  deleted: number;
  /** Pages of `batchSize` done. */
  batches: number;
}

/** What {@link reencrypt} did: `scanned = reencrypted + alreadyCurrent + failed + deleted`. */
export interface ReencryptResult extends ReencryptProgress {
  /** The first 100 failures (the `failed` count has them all). */
  failures: ReencryptFailure[];
}

const MAX_FAILURES_KEPT = 100;
const CAS_ATTEMPTS = 5;
const LOCK_TTL_MS = 15_000;

type Outcome = 'reencrypted' | 'alreadyCurrent' | 'deleted' | ReencryptFailureCode;

function positiveInteger(value: unknown, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw invalidArgument(`${name} must be an integer from 1 to ${max}`);
  }
  return value as number;
}

/**
 * Moves every token field of a store to the key ring's primary key, online: rotators may keep
 * refreshing meanwhile. Pages through the RAW store (the one {@link withEncryption} wraps) with
 * `list`, all statuses; for each chain with a field under an older key — or stored unencrypted before
 * encryption was turned on — it takes the chain's refresh lock, re-reads it, and rewrites just those
 * fields with `compareAndSet` at the version it read (a lost race is re-read and retried, or skipped
 * once the new version is current), so a concurrent refresh is never clobbered. A refresh intent at
 * the record's version moves to the new version with it, so a lost rotation is still detected.
 * Values already under the primary key are decrypted too, so `failed` counts every unreadable chain.
 *
 * Roll a key in three steps: give every process a ring whose primary is the new key and that still
 * holds the old one; run `reencrypt`; once it reports `failed: 0` and nothing is left on the old
 * key, drop it from the ring. Running again is safe (current chains are only counted).
 *
 * @example
 * const raw = createSqliteStore({ database });
 * const result = await reencrypt(raw, createKeyRing({ primaryKeyId: 'k2', keys: { k1, k2 } }), {
 *   onProgress: (p) => console.log(`${p.scanned} scanned, ${p.reencrypted} re-encrypted`),
 * });
 * @throws TypeError (`ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE`) for invalid arguments, or an
 *   encrypted store (pass the raw one).
 * @throws StorageError (`store_failed`, …) when the store fails; chains done so far stay done.
 * @throws the signal's reason when `signal` aborts.
 */
export async function reencrypt(
  store: TokenStore,
  keyRing: KeyRing,
  options: ReencryptOptions = {},
): Promise<ReencryptResult> {
  checkStore(store, 'reencrypt');
  if (innerStoreOf(store) !== undefined) {
    throw invalidArgument(
      'reencrypt needs the raw store, not the one withEncryption() returned',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  checkKeyRing(keyRing);
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  const batchSize = positiveInteger(options.batchSize, 'batchSize', 100, 1000);
  const lockWaitMs = positiveInteger(options.lockWaitMs, 'lockWaitMs', 60_000);
  const { signal, onProgress } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidArgument('onProgress must be a function', 'ERR_INVALID_ARG_TYPE');
  }
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw invalidArgument('now must be a function', 'ERR_INVALID_ARG_TYPE');
  const lock = options.lock ?? store.lock;
  const primary = keyRing.primaryKeyId;

  /** Throws `decryption_failed` / `key_not_found` for any field the ring cannot open. */
  function isCurrent(record: TokenRecord): boolean {
    let current = true;
    for (const field of TOKEN_FIELDS) {
      const value = record[field];
      if (typeof value !== 'string') continue;
      if (!value.startsWith(ENCRYPTED_PREFIX)) current = false;
      else {
        openField(keyRing, record, field, value, false);
        if (keyRing.keyIdOf(value) !== primary) current = false;
      }
    }
    return current;
  }

  /** The fields to rewrite: only those not under the primary key. */
  function resealed(record: TokenRecord): TokenUpdate {
    const update: TokenUpdate = { updatedAt: now() };
    for (const field of TOKEN_FIELDS) {
      const value = record[field];
      if (typeof value !== 'string' || keyRing.keyIdOf(value) === primary) continue;
      const plaintext = openField(keyRing, record, field, value, true);
      update[field] = keyRing.encrypt(plaintext, associatedData(record.clientId, record.chainKey, field));
    }
    const intent = record.refreshIntent;
    // compareAndSet bumps the version; an intent left at this version must follow it, or the next
    // holder would no longer see that a refresh was sent and never stored.
    if (intent !== null && intent.version === record.version) {
      update.refreshIntent = { ...intent, version: record.version + 1 };
    }
    return update;
  }

  async function rewrite(chainKey: string): Promise<Outcome> {
    let record = await store.get(chainKey);
    for (let attempt = 1; record !== undefined; attempt += 1) {
      if (isCurrent(record)) return 'alreadyCurrent';
      if (await store.compareAndSet(chainKey, record.version, resealed(record))) return 'reencrypted';
      if (attempt >= CAS_ATTEMPTS) return 'contended';
      record = await store.get(chainKey);
    }
    return 'deleted';
  }

  async function visit(listed: TokenRecord): Promise<Outcome> {
    try {
      if (isCurrent(listed)) return 'alreadyCurrent';
      let lease: Lease | undefined;
      if (lock !== undefined) {
        lease = await lock.acquire(refreshLockName(listed.chainKey), {
          ttlMs: LOCK_TTL_MS,
          waitMs: lockWaitMs,
          ...(signal === undefined ? {} : { signal }),
        });
      }
      try {
        return await rewrite(listed.chainKey);
      } finally {
        if (lease !== undefined) await lock?.release(lease);
      }
    } catch (error) {
      if (isRotatorError(error)) {
        if (error.code === 'decryption_failed' || error.code === 'key_not_found') return error.code;
        if (error.code === 'lock_timeout') return 'lock_timeout';
      }
      throw error;
    }
  }

  const result: ReencryptResult = {
    scanned: 0,
    reencrypted: 0,
    alreadyCurrent: 0,
    failed: 0,
    deleted: 0,
    batches: 0,
    failures: [],
  };
  let cursor: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await store.list({ limit: batchSize, ...(cursor === undefined ? {} : { cursor }) });
    for (const record of page.records) {
      signal?.throwIfAborted();
      const outcome = await visit(record);
      result.scanned += 1;
      if (outcome === 'reencrypted' || outcome === 'alreadyCurrent' || outcome === 'deleted') {
        result[outcome] += 1;
      } else {
        result.failed += 1;
        if (result.failures.length < MAX_FAILURES_KEPT) {
          result.failures.push({ chainKey: record.chainKey, code: outcome });
        }
      }
    }
    cursor = page.cursor;
    result.batches += 1;
    const { failures: _failures, ...progress } = result;
    onProgress?.(progress);
  } while (cursor !== undefined);
  return result;
}

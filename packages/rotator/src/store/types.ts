import type { ChainKind } from '../chain.js';
import type { Lease, Lock } from '../lock/types.js';

/**
 * Where a chain stands.
 * - `active`: tokens are served and refreshed.
 * - `reauthorization_required`: Slack refused the chain's refresh token; no further refresh is tried
 *   until a new installation is saved.
 * - `revoked`: the app was uninstalled or its tokens revoked.
 */
export type ChainStatus = 'active' | 'reauthorization_required' | 'revoked';

/**
 * A write-ahead note that a refresh is being sent to Slack, written before the request without
 * changing the record's version, and cleared by the compare-and-set that stores the new pair. One
 * still present past `deadlineAt`, at the same version, means Slack may have rotated the chain and
 * the answer was lost.
 */
export interface RefreshIntent {
  /** The record version the refresh started from. */
  version: number;
  /** A fingerprint of the refresh token presented (SHA-256, or HMAC with the key ring), never the token. */
  fingerprint: string;
  /** When the refresh started (epoch ms). */
  startedAt: number;
  /** After this instant an intent still present means the answer was lost (epoch ms). */
  deadlineAt: number;
}

/** One token chain, as stored. Every field is plain data (a store copies it in and out). */
export interface TokenRecord {
  /** `"<clientId>:<E…|T…>:bot"`, `"<clientId>:<E…|T…>:user:<U…>"` or `"config:<T…>:<U…>"`. */
  chainKey: string;
  clientId: string;
  /** The enterprise id for org-wide installs, else the team id. */
  installationId: string;
  enterpriseId: string | null;
  teamId: string | null;
  isEnterpriseInstall: boolean;
  kind: ChainKind;
  /** The user of a user (or configuration) token chain; the installer for a bot chain, if known. */
  userId: string | null;
  appId: string | null;
  botId: string | null;
  botUserId: string | null;
  scopes: string[];
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (epoch ms). */
  expiresAt: number;
  /**
   * A second refresh token Slack issued from the same parent (after an ambiguous failure was
   * retried), kept to try before the chain is declared dead. `null` when there is none.
   */
  fallbackRefreshToken: string | null;
  /** A refresh in flight (or whose answer was lost); `null` when there is none. */
  refreshIntent: RefreshIntent | null;
  /** The fence: incremented by every write except {@link TokenStore.recordIntent}. Starts at 1. */
  version: number;
  status: ChainStatus;
  /** The code of the last refresh failure, or `null`. Never a token. */
  lastErrorCode: string | null;
  /** When the chain was last refreshed (epoch ms), or `null` if never. */
  refreshedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** A record as given to {@link TokenStore.put}: the store assigns the version. */
export type NewTokenRecord = Omit<TokenRecord, 'version'>;

/** Options of {@link TokenStore.compareAndSet}. */
export interface CompareAndSetOptions {
  /**
   * The lease the caller holds on the chain's refresh lock (`refresh:<chainKey>`). A store whose
   * own lock issued it may release it in the same atomic write, and only if the compare-and-set
   * matches; the caller still calls `lock.release`, which then has nothing left to do. Other
   * stores ignore it.
   */
  releasing?: Lease;
}

/** The fields a {@link TokenStore.compareAndSet} may change; absent fields are kept. */
export type TokenUpdate = Partial<
  Pick<
    TokenRecord,
    | 'accessToken'
    | 'refreshToken'
    | 'expiresAt'
    | 'fallbackRefreshToken'
    | 'refreshIntent'
    | 'status'
    | 'lastErrorCode'
    | 'refreshedAt'
    | 'scopes'
    | 'appId'
    | 'botId'
    | 'botUserId'
  >
> & { updatedAt: number };

/** A query for {@link TokenStore.list}. Every filter is optional; all that are given must match. */
export interface ListQuery {
  clientId?: string;
  installationId?: string;
  status?: ChainStatus;
  /** Only chains whose access token expires before this instant (epoch ms). */
  expiresBefore?: number;
  /** At most this many records (default 100, at most 1000). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** One page of {@link TokenStore.list}. */
export interface ListPage {
  records: TokenRecord[];
  /** Pass it back for the next page; `undefined` on the last page. */
  cursor: string | undefined;
}

/** Which chains {@link TokenStore.delete} removes: one chain, or every chain of an installation. */
export type DeleteQuery = { chainKey: string } | { clientId: string; installationId: string };

/**
 * Where chains live. Every method is atomic on its own; no method holds anything across calls.
 * Implementations copy records in and out, so a caller can never change a stored record by mutating
 * an object. Failures of the backing system are thrown as `StorageError` (code `store_failed`).
 *
 * Pass a store through the conformance suite `describeTokenStore` of `slack-rotator/testing`.
 */
export interface TokenStore {
  /** The record of a chain, or `undefined` when there is none. */
  get(chainKey: string): Promise<TokenRecord | undefined>;
  /**
   * Saves a chain from a new installation or exchange: inserts it with `version` 1, or replaces
   * every field of the existing record and sets `version` to the old one plus 1. Always succeeds.
   * Returns the stored record.
   */
  put(record: NewTokenRecord): Promise<TokenRecord>;
  /**
   * Applies `update` only if the stored `version` equals `expectedVersion`, and sets `version` to
   * `expectedVersion + 1`, in one atomic step. Returns the new record, or `undefined` when the
   * version did not match or the chain does not exist (nothing was changed).
   */
  compareAndSet(
    chainKey: string,
    expectedVersion: number,
    update: TokenUpdate,
    options?: CompareAndSetOptions,
  ): Promise<TokenRecord | undefined>;
  /**
   * Sets (or, with `null`, clears) the chain's refresh intent only if its `version` is
   * `expectedVersion`, in one atomic step, WITHOUT changing the version or any other field.
   * Returns `true` when written, `false` when the version did not match or the chain does not exist.
   */
  recordIntent(chainKey: string, expectedVersion: number, intent: RefreshIntent | null): Promise<boolean>;
  /**
   * Lists chains matching `query`. With `expiresBefore`, records come ordered by `expiresAt` then
   * `chainKey`; otherwise by `chainKey`. Pages are stable under concurrent writes (keyset cursor).
   */
  list(query?: ListQuery): Promise<ListPage>;
  /** Removes the chains `query` names. Returns how many were removed (0 when none). */
  delete(query: DeleteQuery): Promise<number>;
  /** A lock that shares this store's backing system, used by `createRotator` by default. */
  readonly lock?: Lock;
  /** Releases what the store opened itself. It never closes a client the user passed in. */
  close(): Promise<void>;
}

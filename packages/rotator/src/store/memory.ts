import { invalidArgument } from '../errors.js';
import { createLocalLock } from '../lock/local.js';
import type { Lock } from '../lock/types.js';
import { compareRecords, isAfter, pageOf, planList } from './list.js';
import {
  checkChainKey,
  checkDeleteQuery,
  checkIntent,
  checkNewRecord,
  checkUpdate,
  checkVersion,
  copyIntent,
  copyNewRecord,
  copyRecord,
} from './record.js';
import type {
  DeleteQuery,
  ListPage,
  ListQuery,
  NewTokenRecord,
  RefreshIntent,
  TokenRecord,
  TokenStore,
  TokenUpdate,
} from './types.js';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** The clock of the store's lock (epoch ms). Default `Date.now`. */
  now?: () => number;
}

/**
 * A token store in this process's memory, for tests and single-process apps that can afford to
 * lose every chain on restart (a restart then needs a new installation). Records are copied in and
 * out; `lock` is an in-process {@link createLocalLock}.
 *
 * @example
 * const rotator = createRotator({ clientId, clientSecret, store: createMemoryStore() });
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) when an option has the wrong type.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): TokenStore & { readonly lock: Lock } {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  const lock = createLocalLock(options.now === undefined ? {} : { now: options.now });
  const records = new Map<string, TokenRecord>();

  return {
    lock,

    async get(chainKey: string): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      const record = records.get(chainKey);
      return record === undefined ? undefined : copyRecord(record);
    },

    async put(record: NewTokenRecord): Promise<TokenRecord> {
      checkNewRecord(record);
      const existing = records.get(record.chainKey);
      const stored: TokenRecord = {
        ...copyNewRecord(record),
        version: existing === undefined ? 1 : existing.version + 1,
      };
      records.set(stored.chainKey, stored);
      return copyRecord(stored);
    },

    async compareAndSet(
      chainKey: string,
      expectedVersion: number,
      update: TokenUpdate,
    ): Promise<TokenRecord | undefined> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      const fields = checkUpdate(update);
      const existing = records.get(chainKey);
      if (existing === undefined || existing.version !== expectedVersion) return undefined;
      const next: Record<string, unknown> = { ...existing, version: expectedVersion + 1 };
      for (const field of fields) {
        const value = update[field];
        next[field] =
          field === 'refreshIntent'
            ? copyIntent(value as RefreshIntent | null)
            : Array.isArray(value)
              ? [...value]
              : value;
      }
      const stored = next as unknown as TokenRecord;
      records.set(chainKey, stored);
      return copyRecord(stored);
    },

    async recordIntent(
      chainKey: string,
      expectedVersion: number,
      intent: RefreshIntent | null,
    ): Promise<boolean> {
      checkChainKey(chainKey);
      checkVersion(expectedVersion);
      checkIntent(intent);
      const existing = records.get(chainKey);
      if (existing === undefined || existing.version !== expectedVersion) return false;
      records.set(chainKey, { ...existing, refreshIntent: copyIntent(intent) });
      return true;
    },

    async list(query?: ListQuery): Promise<ListPage> {
      const plan = planList(query);
      const matching = [...records.values()]
        .filter(
          (record) =>
            (plan.clientId === undefined || record.clientId === plan.clientId) &&
            (plan.installationId === undefined || record.installationId === plan.installationId) &&
            (plan.status === undefined || record.status === plan.status) &&
            (plan.expiresBefore === undefined || record.expiresAt < plan.expiresBefore) &&
            (plan.after === undefined || isAfter(record, plan.after, plan.byExpiry)),
        )
        .sort((a, b) => compareRecords(a, b, plan.byExpiry));
      return pageOf(matching.slice(0, plan.limit + 1).map(copyRecord), plan);
    },

    async delete(query: DeleteQuery): Promise<number> {
      const target = checkDeleteQuery(query);
      if ('chainKey' in target) return records.delete(target.chainKey) ? 1 : 0;
      const { clientId, installationId } = target;
      let count = 0;
      for (const [chainKey, record] of records) {
        if (record.clientId === clientId && record.installationId === installationId) {
          records.delete(chainKey);
          count += 1;
        }
      }
      return count;
    },

    async close(): Promise<void> {
      await lock.close?.();
    },
  };
}

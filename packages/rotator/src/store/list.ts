import { invalidArgument } from '../errors.js';
import type { ChainStatus, ListPage, ListQuery, TokenRecord } from './types.js';

/** The default page size of `list`. */
export const DEFAULT_LIST_LIMIT = 100;
/** The largest page size of `list`; larger limits are lowered to it. */
export const MAX_LIST_LIMIT = 1000;

/** Where a page starts: strictly after this position in the listing order. */
export interface ListPosition {
  chainKey: string;
  /** Set when the listing is ordered by `expiresAt` (a query with `expiresBefore`). */
  expiresAt?: number;
}

/** A {@link ListQuery} checked and decoded, ready for an adapter. */
export interface ListPlan {
  clientId: string | undefined;
  installationId: string | undefined;
  status: ChainStatus | undefined;
  expiresBefore: number | undefined;
  /** Ordered by `(expiresAt, chainKey)` when true, else by `chainKey`. */
  byExpiry: boolean;
  limit: number;
  after: ListPosition | undefined;
}

const STATUSES: readonly string[] = ['active', 'reauthorization_required', 'revoked'];

function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') {
    throw invalidArgument(`${name} must be a non-empty string`, 'ERR_INVALID_ARG_TYPE');
  }
  return value;
}

/**
 * Checks a {@link ListQuery} and decodes its cursor.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE`) for an invalid filter, limit or cursor.
 */
export function planList(query: ListQuery = {}): ListPlan {
  if (query === null || typeof query !== 'object') {
    throw invalidArgument('query must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  if (query.status !== undefined && !STATUSES.includes(query.status)) {
    throw invalidArgument(`query.status must be one of ${STATUSES.join(', ')}`);
  }
  if (query.expiresBefore !== undefined && !Number.isFinite(query.expiresBefore)) {
    throw invalidArgument('query.expiresBefore must be a finite number (epoch ms)');
  }
  const limit = query.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw invalidArgument('query.limit must be a positive integer');
  const byExpiry = query.expiresBefore !== undefined;
  return {
    clientId: optionalText(query.clientId, 'query.clientId'),
    installationId: optionalText(query.installationId, 'query.installationId'),
    status: query.status,
    expiresBefore: query.expiresBefore,
    byExpiry,
    limit: Math.min(limit, MAX_LIST_LIMIT),
    after: query.cursor === undefined ? undefined : decodeCursor(query.cursor, byExpiry),
  };
}

/** The opaque cursor that continues a listing after `record`. */
export function encodeCursor(record: TokenRecord, byExpiry: boolean): string {
  const position = byExpiry ? { k: record.chainKey, e: record.expiresAt } : { k: record.chainKey };
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, byExpiry: boolean): ListPosition {
  const invalid = () =>
    invalidArgument(
      'query.cursor is not a cursor this store issued for this kind of query (with/without expiresBefore)',
    );
  if (typeof cursor !== 'string' || cursor === '') throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (decoded === null || typeof decoded !== 'object') throw invalid();
  const { k, e } = decoded as { k?: unknown; e?: unknown };
  if (typeof k !== 'string' || k === '') throw invalid();
  if (!byExpiry) {
    if (e !== undefined) throw invalid();
    return { chainKey: k };
  }
  if (typeof e !== 'number' || !Number.isFinite(e)) throw invalid();
  return { chainKey: k, expiresAt: e };
}

/** True when `record` sorts after `position` in the order of the plan. */
export function isAfter(record: TokenRecord, position: ListPosition, byExpiry: boolean): boolean {
  if (byExpiry && position.expiresAt !== undefined && record.expiresAt !== position.expiresAt) {
    return record.expiresAt > position.expiresAt;
  }
  return record.chainKey > position.chainKey;
}

/** Orders records as the plan says: by `(expiresAt, chainKey)` or by `chainKey`. */
export function compareRecords(a: TokenRecord, b: TokenRecord, byExpiry: boolean): number {
  if (byExpiry && a.expiresAt !== b.expiresAt) return a.expiresAt < b.expiresAt ? -1 : 1;
  if (a.chainKey === b.chainKey) return 0;
  return a.chainKey < b.chainKey ? -1 : 1;
}

/**
 * One page from the records that matched, in order, up to one past the limit: that extra one only
 * tells that another page follows.
 */
export function pageOf(records: TokenRecord[], plan: ListPlan): ListPage {
  const shown = records.slice(0, plan.limit);
  const last = shown.at(-1);
  return {
    records: shown,
    cursor: records.length > plan.limit && last !== undefined ? encodeCursor(last, plan.byExpiry) : undefined,
  };
}

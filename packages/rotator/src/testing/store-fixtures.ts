import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { NewTokenRecord, TokenRecord, TokenStore } from '../store/types.js';

/** What each store conformance case gets: a fresh store, and a peer on the same backing system. */
export interface StoreCaseFixture {
  store: TokenStore;
  /** A second client of the same data (the `store` itself when the adapter has no such thing). */
  peer: TokenStore;
}

/** A fixed instant the sample records are dated from (epoch ms). */
export const BASE_AT = Date.UTC(2030, 0, 1);

const TOKEN_FIELDS = ['accessToken', 'refreshToken', 'fallbackRefreshToken'] as const;

/** Fake (never real) tokens, unique per call so comparisons between them mean something. */
export function fakeTokens(): Pick<NewTokenRecord, 'accessToken' | 'refreshToken'> {
  const id = randomUUID();
  return { accessToken: `xoxe.xoxb-1-fake-${id}`, refreshToken: `xoxe-1-fake-${id}` };
}

/** A valid bot chain record of `installationId`; `overrides` replace any field. */
export function sampleRecord(
  installationId = 'T0000001',
  overrides: Partial<NewTokenRecord> = {},
): NewTokenRecord {
  const clientId = overrides.clientId ?? '1111.2222';
  return {
    chainKey: `${clientId}:${installationId}:bot`,
    clientId,
    installationId,
    enterpriseId: null,
    teamId: installationId,
    isEnterpriseInstall: false,
    kind: 'bot',
    userId: 'U0000001',
    appId: 'A0000001',
    botId: 'B0000001',
    botUserId: 'U0000BOT',
    scopes: ['chat:write', 'channels:read'],
    ...fakeTokens(),
    expiresAt: BASE_AT + 12 * 3_600_000,
    fallbackRefreshToken: null,
    refreshIntent: null,
    status: 'active',
    lastErrorCode: null,
    refreshedAt: null,
    createdAt: BASE_AT,
    updatedAt: BASE_AT,
    ...overrides,
  };
}

/** A record with its token fields replaced by placeholders, safe to print in an assertion diff. */
export function redacted(record: Partial<TokenRecord>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...record };
  for (const field of TOKEN_FIELDS) {
    if (typeof copy[field] === 'string') copy[field] = '[token]';
  }
  return copy;
}

/**
 * Asserts that `actual` is a record equal to `expected`, field by field. Token fields are compared
 * apart, so a failure never prints a token.
 */
export function assertRecord(
  actual: TokenRecord | undefined,
  expected: TokenRecord,
  what: string,
): asserts actual is TokenRecord {
  assert.ok(actual !== undefined, `${what}: expected a record, got undefined`);
  for (const field of TOKEN_FIELDS) {
    assert.ok(actual[field] === expected[field], `${what}: ${field} is not the expected token`);
  }
  try {
    assert.deepStrictEqual(redacted(actual), redacted(expected));
  } catch (error) {
    // Keep the diff (tokens are redacted in it) and say which step failed.
    if (error instanceof assert.AssertionError) error.message = `${what}: ${error.message}`;
    throw error;
  }
}

/** Asserts that the stored chain is exactly `expected` (or absent when `expected` is undefined). */
export async function assertStored(
  store: TokenStore,
  chainKey: string,
  expected: TokenRecord | undefined,
  what: string,
): Promise<void> {
  const stored = await store.get(chainKey);
  if (expected === undefined) assert.equal(stored, undefined, `${what}: expected no record for ${chainKey}`);
  else assertRecord(stored, expected, what);
}

/** Every record of a listing, page by page (with a guard against a cursor that never ends). */
export async function listAll(
  store: TokenStore,
  query: Parameters<TokenStore['list']>[0] = {},
): Promise<{ records: TokenRecord[]; pages: number }> {
  const records: TokenRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ ...query, ...(cursor === undefined ? {} : { cursor }) });
    records.push(...page.records);
    cursor = page.cursor;
    pages += 1;
    assert.ok(pages <= 10_000, 'list never returned a last page');
  } while (cursor !== undefined);
  return { records, pages };
}

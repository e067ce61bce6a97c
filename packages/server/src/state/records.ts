/**
 * What every {@link ServerState} adapter shares: checking an API key record before it is written,
 * the JSON form of its installations, and the one way a backend failure is reported.
 */
import { ServerError } from '../errors.js';
import type { ApiKeyRecord } from '../types.js';

/** The table names, shared by SQLite and PostgreSQL. */
export const API_KEYS_TABLE = 'slack_rotator_api_keys';
export const BUDGET_TABLE = 'slack_rotator_budget';

const DIGEST = /^[0-9a-f]{64}$/;

/** @throws ServerError `invalid_request` naming the field (never the digest). */
export function checkApiKey(record: ApiKeyRecord): void {
  const bad = (what: string) => new ServerError('invalid_request', `API key record: ${what}`);
  if (typeof record.id !== 'string' || record.id === '') throw bad('id must be a non-empty string');
  if (typeof record.name !== 'string') throw bad('name must be a string');
  if (typeof record.digest !== 'string' || !DIGEST.test(record.digest)) {
    throw bad('digest must be a lowercase hex SHA-256');
  }
  const { installations } = record;
  if (
    installations !== '*' &&
    !(Array.isArray(installations) && installations.every((i) => typeof i === 'string'))
  ) {
    throw bad("installations must be '*' or a list of installation ids");
  }
  if (!Number.isSafeInteger(record.createdAt)) throw bad('createdAt must be epoch milliseconds');
  if (record.revokedAt !== null && !Number.isSafeInteger(record.revokedAt)) {
    throw bad('revokedAt must be epoch milliseconds or null');
  }
}

/** An API key whose id or digest is already stored (ids and secrets are random: a caller's bug). */
export function duplicateKey(): ServerError {
  return new ServerError('invalid_request', 'an API key with this id or digest already exists');
}

/** The stored form of `installations`: JSON (`"*"` or a list). */
export function encodeInstallations(installations: ApiKeyRecord['installations']): string {
  return JSON.stringify(installations);
}

export function decodeInstallations(text: string): ApiKeyRecord['installations'] {
  const value: unknown = JSON.parse(text);
  return value === '*' ? '*' : (value as string[]);
}

/** One stored row, as every SQL adapter selects it. */
export interface ApiKeyRow {
  id: string;
  name: string;
  digest: string;
  installations: string;
  created_at: number | string;
  revoked_at: number | string | null;
}

export function fromRow(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    digest: row.digest,
    installations: decodeInstallations(row.installations),
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

/**
 * One reservation in whole milliseconds: how far it moves the budget's theoretical arrival time,
 * rounded up so that a fractional interval (7 per minute) never lets more than the budget through.
 * @throws ServerError `invalid_request` for a count or interval that is not positive.
 */
export function reservation(
  count: number,
  intervalMs: number,
  now: number,
): { incrementMs: number; nowMs: number } {
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new ServerError('invalid_request', 'reserveSlots: count must be an integer >= 1');
  }
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new ServerError('invalid_request', 'reserveSlots: intervalMs must be a number > 0');
  }
  if (!Number.isFinite(now) || now < 0)
    throw new ServerError('invalid_request', 'reserveSlots: now must be epoch ms');
  // A fast test clock gives fractions; stored instants are whole milliseconds, never before now.
  return { incrementMs: Math.ceil(count * intervalMs), nowMs: Math.ceil(now) };
}

/** A backend failure as the server reports it: which state, what failed, the driver's message. */
export function stateFailed(kind: string, what: string, error: unknown): ServerError {
  if (error instanceof ServerError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new ServerError('backend_unavailable', `state unreachable (${kind}): ${what} failed: ${reason}`, {
    cause: error,
  });
}

/** Runs `work`, reporting any failure with {@link stateFailed}. */
export async function guarded<T>(kind: string, what: string, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw stateFailed(kind, what, error);
  }
}

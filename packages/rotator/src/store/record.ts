import { invalidArgument, StorageError } from '../errors.js';
import type { DeleteQuery, NewTokenRecord, RefreshIntent, TokenRecord, TokenUpdate } from './types.js';

type Check = (value: unknown) => boolean;

const text: Check = (value) => typeof value === 'string' && value !== '';
const textOrNull: Check = (value) => value === null || typeof value === 'string';
const instant: Check = (value) => typeof value === 'number' && Number.isFinite(value);
const instantOrNull: Check = (value) => value === null || instant(value);
const scopes: Check = (value) => Array.isArray(value) && value.every((scope) => typeof scope === 'string');
const intentOrNull: Check = (value) => {
  if (value === null) return true;
  if (typeof value !== 'object') return false;
  const { version, fingerprint, startedAt, deadlineAt } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(version) &&
    (version as number) >= 1 &&
    text(fingerprint) &&
    instant(startedAt) &&
    instant(deadlineAt)
  );
};
const oneOf =
  (...allowed: string[]): Check =>
  (value) =>
    typeof value === 'string' && allowed.includes(value);

/** The fields a {@link TokenUpdate} may carry, with their checks. */
const UPDATE_CHECKS = {
  accessToken: text,
  refreshToken: text,
  expiresAt: instant,
  fallbackRefreshToken: textOrNull,
  refreshIntent: intentOrNull,
  status: oneOf('active', 'reauthorization_required', 'revoked'),
  lastErrorCode: textOrNull,
  refreshedAt: instantOrNull,
  scopes,
  appId: textOrNull,
  botId: textOrNull,
  botUserId: textOrNull,
  updatedAt: instant,
} satisfies Record<keyof TokenUpdate, Check>;

const NEW_RECORD_CHECKS = {
  ...UPDATE_CHECKS,
  chainKey: text,
  clientId: text,
  installationId: text,
  enterpriseId: textOrNull,
  teamId: textOrNull,
  isEnterpriseInstall: (value) => typeof value === 'boolean',
  kind: oneOf('bot', 'user', 'config'),
  userId: textOrNull,
  createdAt: instant,
} satisfies Record<keyof NewTokenRecord, Check>;

const RECORD_CHECKS = {
  ...NEW_RECORD_CHECKS,
  version: (value) => Number.isSafeInteger(value) && (value as number) >= 1,
} satisfies Record<keyof TokenRecord, Check>;

/** Each check table as a list, made once: every record read is checked, and a storm reads thousands. */
const RECORD_CHECK_LIST = Object.entries(RECORD_CHECKS);
/** The fields of a {@link TokenRecord}. */
export const RECORD_FIELDS: readonly string[] = Object.keys(RECORD_CHECKS);
const NEW_RECORD_CHECK_LIST = Object.entries(NEW_RECORD_CHECKS);

function firstInvalid(value: unknown, checks: readonly [string, Check][]): string | undefined {
  if (value === null || typeof value !== 'object') return '(the record itself)';
  const fields = value as Record<string, unknown>;
  for (const [field, check] of checks) {
    if (!check(fields[field])) return field;
  }
  return undefined;
}

/**
 * The name of the first field of a stored record that breaks {@link TokenRecord}, or `undefined`
 * when the record is valid. Never returns a value, only a field name.
 */
export function invalidRecordField(value: unknown): string | undefined {
  return firstInvalid(value, RECORD_CHECK_LIST);
}

/** The `record_invalid` failure of a stored record: it names the field only, since a value may be a token. */
export function invalidStoredRecord(what: string, chainKey?: string): StorageError {
  return new StorageError('record_invalid', `[slack-rotator] the stored record has an invalid ${what}`, {
    ...(chainKey === undefined ? {} : { chainKey }),
  });
}

/** `record` read back from a backend, checked against {@link TokenRecord}. @throws StorageError `record_invalid` */
export function checkStoredRecord(record: Record<string, unknown>, chainKey?: string): TokenRecord {
  const invalid = invalidRecordField(record);
  if (invalid !== undefined) throw invalidStoredRecord(invalid, chainKey);
  return record as unknown as TokenRecord;
}

/**
 * Checks a record given to `put`.
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) naming the first invalid field, never its value.
 */
export function checkNewRecord(record: NewTokenRecord): void {
  const field = firstInvalid(record, NEW_RECORD_CHECK_LIST);
  if (field !== undefined) throw invalidArgument(`record.${field} is missing or invalid`);
}

/**
 * Checks an update given to `compareAndSet` and returns the fields it sets (absent and `undefined`
 * fields are left out).
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) for an unknown or invalid field, never showing its value.
 */
export function checkUpdate(update: TokenUpdate): (keyof TokenUpdate)[] {
  if (update === null || typeof update !== 'object') {
    throw invalidArgument('update must be an object', 'ERR_INVALID_ARG_TYPE');
  }
  const fields: (keyof TokenUpdate)[] = [];
  for (const [field, value] of Object.entries(update)) {
    if (value === undefined) continue;
    // A whole record written back (version, chainKey…) is the stale-clobber bug; refuse it loudly.
    if (!Object.hasOwn(UPDATE_CHECKS, field)) throw invalidArgument(`update.${field} cannot be changed`);
    if (!UPDATE_CHECKS[field as keyof TokenUpdate](value)) {
      throw invalidArgument(`update.${field} is invalid`);
    }
    fields.push(field as keyof TokenUpdate);
  }
  if (!fields.includes('updatedAt')) throw invalidArgument('update.updatedAt is required');
  return fields;
}

/** Checks a chain key argument. */
export function checkChainKey(chainKey: string): void {
  if (typeof chainKey !== 'string' || chainKey === '') {
    throw invalidArgument('chainKey must be a non-empty string', 'ERR_INVALID_ARG_TYPE');
  }
}

/**
 * Checks a `delete` query and returns it with only the fields that count.
 * @throws TypeError (`ERR_INVALID_ARG_TYPE`) unless it has a `chainKey` or both ids.
 */
export function checkDeleteQuery(query: DeleteQuery): DeleteQuery {
  const { chainKey, clientId, installationId } = (query ?? {}) as Record<string, unknown>;
  if (chainKey !== undefined) {
    checkChainKey(chainKey as string);
    return { chainKey: chainKey as string };
  }
  if (
    typeof clientId !== 'string' ||
    clientId === '' ||
    typeof installationId !== 'string' ||
    installationId === ''
  ) {
    throw invalidArgument(
      'delete needs { chainKey } or { clientId, installationId }',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  return { clientId, installationId };
}

/** Checks an expected version argument. */
export function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw invalidArgument('expectedVersion must be a positive integer');
  }
}

/**
 * The state of a chain as it is installed (or installed again): active, never refreshed, with no
 * sibling refresh token, no refresh intent and no error.
 */
export const INSTALLED_CHAIN_STATE = {
  fallbackRefreshToken: null,
  refreshIntent: null,
  status: 'active',
  lastErrorCode: null,
  refreshedAt: null,
} as const satisfies Partial<NewTokenRecord>;

/** A deep copy of a record with exactly the fields of {@link TokenRecord} (extra properties dropped). */
export function copyRecord(record: TokenRecord): TokenRecord {
  // One object, not a copy spread into another: every record read is copied.
  const copy = copyNewRecord(record) as TokenRecord;
  copy.version = record.version;
  return copy;
}

/** A deep copy of a new record with exactly the fields of {@link NewTokenRecord}. */
export function copyNewRecord(record: NewTokenRecord): NewTokenRecord {
  return {
    chainKey: record.chainKey,
    clientId: record.clientId,
    installationId: record.installationId,
    enterpriseId: record.enterpriseId,
    teamId: record.teamId,
    isEnterpriseInstall: record.isEnterpriseInstall,
    kind: record.kind,
    userId: record.userId,
    appId: record.appId,
    botId: record.botId,
    botUserId: record.botUserId,
    scopes: [...record.scopes],
    accessToken: record.accessToken,
    refreshToken: record.refreshToken,
    expiresAt: record.expiresAt,
    fallbackRefreshToken: record.fallbackRefreshToken,
    refreshIntent: copyIntent(record.refreshIntent),
    status: record.status,
    lastErrorCode: record.lastErrorCode,
    refreshedAt: record.refreshedAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** A copy of an intent with exactly its four fields, or `null`. */
export function copyIntent(intent: RefreshIntent | null): RefreshIntent | null {
  if (intent === null) return null;
  const { version, fingerprint, startedAt, deadlineAt } = intent;
  return { version, fingerprint, startedAt, deadlineAt };
}

/**
 * Checks an intent given to `recordIntent` (or `null`).
 * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when it is neither `null` nor a valid intent.
 */
export function checkIntent(intent: RefreshIntent | null): void {
  if (!intentOrNull(intent)) {
    throw invalidArgument('intent must be null or { version, fingerprint, startedAt, deadlineAt }');
  }
}

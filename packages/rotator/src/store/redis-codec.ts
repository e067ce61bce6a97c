import { StorageError } from '../errors.js';
import {
  copyNewRecord,
  copyRecord,
  invalidRecordField,
  invalidStoredRecord,
  RECORD_FIELDS,
} from './record.js';
import type { NewTokenRecord, TokenRecord } from './types.js';

/** The layout of a record hash this code writes; a hash with a larger `format` is from a newer release. */
export const RECORD_FORMAT = 1;

/** Hash fields that are not record fields: the layout, the fence, and the write order for the index. */
const META_FIELDS = new Set(['format', 'version', 'rev']);

/** Each field name a record hash has, as a JSON string (made once: quoting them cost more than parsing). */
const QUOTED = new Map([...META_FIELDS, ...RECORD_FIELDS].map((field) => [field, JSON.stringify(field)]));

/** A record read from Redis, with `rev`: the server time (µs) of its last write, for the index. */
export interface StoredRecord {
  record: TokenRecord;
  rev: number;
}

/** The hash fields of a record as `field, value` pairs: every field JSON-encoded (so `null` survives). */
export function encodeRecord(record: NewTokenRecord): string[] {
  return encodeFields(copyNewRecord(record) as unknown as Record<string, unknown>);
}

/** `field, value` pairs of the given fields, each value JSON-encoded. */
export function encodeFields(fields: Record<string, unknown>): string[] {
  const pairs: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value !== undefined) pairs.push(field, JSON.stringify(value));
  }
  return pairs;
}

/** One JSON-encoded value, as the hash holds it. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * A record from its hash (`HGETALL` as an object or as a flat `[field, value, …]` array), or
 * `undefined` for an empty hash (no record).
 * @throws StorageError (`record_invalid`) naming the first invalid field — never its value — or a
 *   record written by a newer release.
 */
export function decodeRecord(
  chainKey: string,
  hash: Record<string, string> | readonly unknown[],
): StoredRecord | undefined {
  const fields: Record<string, string> = Array.isArray(hash)
    ? pairsToObject(hash as readonly unknown[])
    : (hash as Record<string, string>);
  if (Object.keys(fields).length === 0) return undefined;
  // The layout first: a newer release may encode the other fields differently.
  checkFormat(chainKey, fields.format);
  return checkDecoded(chainKey, parseWhole(fields) ?? parseEach(chainKey, fields));
}

/**
 * Every value of the hash in one `JSON.parse`, as the commit's message has them (each value is JSON:
 * a number, or a JSON-encoded field): a parse per field cost most of a read's decoding. `undefined`
 * when that text is not JSON (a value is not): {@link parseEach} then names the field.
 */
function parseWhole(fields: Record<string, string>): Record<string, unknown> | undefined {
  let json = '';
  let count = 0;
  for (const field in fields) {
    json += `,${QUOTED.get(field) ?? JSON.stringify(field)}:${fields[field]}`;
    count++;
  }
  const values = parseObject(`{${json.slice(1)}}`);
  if (values === undefined) return undefined;
  // A value that is not JSON alone can still join into JSON ('1,"x":2'): it adds a key. (One made to
  // repeat another field's key is not caught: whoever can write that value can write the field.)
  for (const _ in values) count--;
  return count === 0 ? values : undefined;
}

/** A JSON text's object, or `undefined` if the text is not JSON or not an object. */
function parseObject(json: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The hash's values parsed one by one. @throws StorageError `record_invalid` naming the first that is not JSON */
function parseEach(chainKey: string, fields: Record<string, string>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const field in fields) {
    const value = fields[field] as string;
    if (META_FIELDS.has(field)) {
      values[field] = value;
      continue;
    }
    try {
      values[field] = JSON.parse(value);
    } catch {
      throw invalidStoredRecord(field, chainKey);
    }
  }
  return values;
}

/**
 * A record from the JSON object a commit's message carries (see `COMPARE_AND_SET`): every value
 * decoded already. `undefined` if the message is not such an object.
 * @throws StorageError (`record_invalid`) as {@link decodeRecord} does.
 */
export function decodePushedRecord(chainKey: string, json: string): StoredRecord | undefined {
  const values = parseObject(json);
  if (values === undefined) return undefined;
  checkFormat(chainKey, values.format);
  return checkDecoded(chainKey, values);
}

/** Checks a record's `format` (a number or a numeric string). @throws StorageError `record_invalid` */
function checkFormat(chainKey: string, value: unknown): void {
  const format = Number(value);
  if (!Number.isSafeInteger(format) || format < 1) throw invalidStoredRecord('format', chainKey);
  if (format > RECORD_FORMAT) {
    throw new StorageError(
      'record_invalid',
      `[slack-rotator] the stored record was written by a newer release (format ${format}); upgrade slack-rotator`,
      { chainKey },
    );
  }
}

/** Checks a hash's decoded values (`version` and `rev` as numbers or numeric strings), format checked. */
function checkDecoded(chainKey: string, values: Record<string, unknown>): StoredRecord {
  values.version = Number(values.version);
  const field = invalidRecordField(values);
  if (field !== undefined) throw invalidStoredRecord(field, chainKey);
  if (values.chainKey !== chainKey) throw invalidStoredRecord('chainKey', chainKey);
  const rev = Number(values.rev);
  if (!Number.isSafeInteger(rev) || rev < 0) throw invalidStoredRecord('rev', chainKey);
  return { record: copyRecord(values as unknown as TokenRecord), rev };
}

function pairsToObject(pairs: readonly unknown[]): Record<string, string> {
  const object: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) object[String(pairs[i])] = String(pairs[i + 1]);
  return object;
}

const BITS = new DataView(new ArrayBuffer(8));

/**
 * 16 hex digits whose byte order is the numeric order of `value` (any finite number): the IEEE 754
 * bits with the sign bit flipped for positives and every bit flipped for negatives.
 */
export function sortableNumber(value: number): string {
  BITS.setFloat64(0, value === 0 ? 0 : value);
  const high = BITS.getUint32(0);
  const low = BITS.getUint32(4);
  const negative = high >>> 31 === 1;
  const h = negative ? ~high >>> 0 : (high | 0x80000000) >>> 0;
  const l = negative ? ~low >>> 0 : low;
  return h.toString(16).padStart(8, '0') + l.toString(16).padStart(8, '0');
}

/** The member of the expiry index for a chain: its expiry in byte order, then its key. */
export function expiryMember(expiresAt: number, chainKey: string): string {
  return sortableNumber(expiresAt) + chainKey;
}

/** The length of the expiry part of {@link expiryMember}. */
export const EXPIRY_WIDTH = 16;

/**
 * Parsers for single configuration values. Each returns the value or `undefined` after adding one
 * problem that names the setting as the user wrote it. None ever echoes a secret's value.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ServerConfig, StoreConfig } from './types.js';

/** A value as found: where it came from (an env var or a file key path) and what it was. */
export interface Raw {
  /** The setting as the user wrote it: `SLACK_ROTATOR_LISTEN` or `apps[1].clientId`. */
  from: string;
  value: unknown;
  fromEnv: boolean;
}

/** Collects every problem so that one error can list them all. */
export interface Problems {
  add(from: string, message: string): void;
  readonly list: string[];
}

export function createProblems(): Problems {
  const list: string[] = [];
  return { list, add: (from, message) => list.push(`${from}: ${message}`) };
}

export function str(raw: Raw, problems: Problems): string | undefined {
  if (typeof raw.value === 'string') return raw.value;
  if (typeof raw.value === 'number' && !raw.fromEnv) return String(raw.value);
  problems.add(raw.from, 'must be a string');
  return undefined;
}

/** A comma list (env, or a string in the file) or a YAML/JSON list of strings. */
export function list(raw: Raw, problems: Problems): string[] | undefined {
  if (typeof raw.value === 'string') return splitList(raw.value);
  if (Array.isArray(raw.value) && raw.value.every((item) => typeof item === 'string')) {
    return raw.value.map((item: string) => item.trim()).filter((item) => item !== '');
  }
  problems.add(raw.from, 'must be a comma-separated string or a list of strings');
  return undefined;
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function int(raw: Raw, problems: Problems, min: number, max: number, hint = ''): number | undefined {
  const value =
    typeof raw.value === 'number'
      ? raw.value
      : typeof raw.value === 'string' && /^\s*-?\d+\s*$/.test(raw.value)
        ? Number(raw.value)
        : Number.NaN;
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  problems.add(raw.from, `must be an integer ${range}${hint}`);
  return undefined;
}

export function bool(raw: Raw, problems: Problems): boolean | undefined {
  if (typeof raw.value === 'boolean') return raw.value;
  if (typeof raw.value === 'string') {
    const text = raw.value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
  }
  problems.add(raw.from, 'must be true or false');
  return undefined;
}

export function httpUrl(raw: Raw, problems: Problems): string | undefined {
  const text = str(raw, problems);
  if (text === undefined) return undefined;
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return text;
  } catch {}
  problems.add(raw.from, 'must be an http:// or https:// URL');
  return undefined;
}

const SCHEME = /^([a-z][a-z0-9+.-]+):/i;

/**
 * `postgres://` / `postgresql://`, `redis://` / `rediss://`, `sqlite:<path>` (`sqlite::memory:` for
 * an in-memory database) or a plain file path. URLs may hold a password, so they are never echoed.
 */
export function storeUrl(raw: Raw, problems: Problems, cwd: string): StoreConfig | undefined {
  const text = str(raw, problems)?.trim();
  if (text === undefined) return undefined;
  if (text === '') {
    problems.add(raw.from, 'must not be empty');
    return undefined;
  }
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    return validUrl(text, raw, problems) ? { kind: 'postgres', url: text } : undefined;
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    return validUrl(text, raw, problems) && validPrefix(text, raw, problems)
      ? { kind: 'redis', url: text }
      : undefined;
  }
  if (scheme === 'sqlite') {
    let path = text.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === ':memory:') return { kind: 'sqlite', path };
    if (path === '') {
      problems.add(raw.from, 'sqlite: needs a file path (sqlite:/abs/path or sqlite:relative/path)');
      return undefined;
    }
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  // A single letter before ':' is a Windows drive, not a scheme.
  if (scheme !== undefined && /^[a-z][a-z0-9+.-]+:\/\//i.test(text)) {
    problems.add(
      raw.from,
      `unsupported scheme "${scheme}:"; use postgres://, redis://, rediss://, sqlite:<path> or a file path`,
    );
    return undefined;
  }
  return { kind: 'sqlite', path: isAbsolute(text) ? text : resolve(cwd, text) };
}

/** `storeListen`: a postgres:// URL, and only beside a PostgreSQL store. */
export function storeListenUrl(
  raw: Raw,
  store: ServerConfig['store'] | undefined,
  problems: Problems,
): string | undefined {
  const text = str(raw, problems)?.trim();
  if (text === undefined) return undefined;
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    problems.add(raw.from, 'must be a postgres:// URL straight to PostgreSQL (not through PgBouncer)');
    return undefined;
  }
  if (!validUrl(text, raw, problems)) return undefined;
  if (store !== undefined && store.kind !== 'postgres') {
    problems.add(raw.from, 'is only for a PostgreSQL store (SLACK_ROTATOR_STORE=postgres://…)');
    return undefined;
  }
  return text;
}

export function lockUrl(raw: Raw, problems: Problems): ServerConfig['lock'] | undefined {
  const text = str(raw, problems)?.trim();
  if (text === undefined) return undefined;
  if (text === '' || text === 'same') return { kind: 'same' };
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (
    (scheme === 'redis' || scheme === 'rediss') &&
    validUrl(text, raw, problems) &&
    validPrefix(text, raw, problems)
  ) {
    return { kind: 'redis', url: text };
  }
  if (scheme !== 'redis' && scheme !== 'rediss') {
    problems.add(raw.from, "must be a redis:// or rediss:// URL (or unset for the store's own lock)");
  }
  return undefined;
}

function validUrl(text: string, raw: Raw, problems: Problems): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    problems.add(raw.from, 'is not a valid URL');
    return false;
  }
}

/** A Redis URL's `?prefix=` (the first part of every key): no whitespace or braces, as the library requires. */
function validPrefix(text: string, raw: Raw, problems: Problems): boolean {
  const prefix = new URL(text).searchParams.get('prefix');
  if (prefix === null || /^[^\s{}]{1,100}$/.test(prefix)) return true;
  problems.add(raw.from, '?prefix= must be 1 to 100 characters without whitespace or braces');
  return false;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const KEY_TEXT = /^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/;

/** `id:base64key,id2:base64key` (or a list of `id:key` strings in the file); the first is primary. */
export function encryptionKeys(raw: Raw, problems: Problems): ServerConfig['encryption'] | undefined {
  const entries = list(raw, problems);
  if (entries === undefined) return undefined;
  if (entries.length === 0) return undefined;
  const keys: { id: string; key: Buffer }[] = [];
  let ok = true;
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon).trim();
    const text = colon < 0 ? '' : entry.slice(colon + 1).trim();
    // An entry without a valid id is not echoed: it may be a bare key.
    if (!KEY_ID.test(id)) {
      problems.add(
        raw.from,
        `entry ${index + 1} must be <key id>:<base64 key>, the id matching [A-Za-z0-9_-]{1,32}`,
      );
      ok = false;
      return;
    }
    const key = KEY_TEXT.test(text) ? Buffer.from(text, 'base64') : undefined;
    if (key?.length !== 32) {
      problems.add(
        raw.from,
        `key "${id}" must be 32 bytes in base64 or base64url (e.g. openssl rand -base64 32)`,
      );
      ok = false;
      return;
    }
    if (keys.some((k) => k.id === id)) {
      problems.add(raw.from, `key id "${id}" appears twice`);
      ok = false;
      return;
    }
    keys.push({ id, key });
  });
  return ok ? { keys } : undefined;
}

/** `host:port` or `[ipv6]:port`; port 0 picks a free port (tests). */
export function listen(raw: Raw, problems: Problems): { host: string; port: number } | undefined {
  const text = str(raw, problems)?.trim();
  if (text === undefined) return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port > 65535) {
    problems.add(raw.from, `"${text}" must be host:port (e.g. ${'127.0.0.1:8787'}, [::1]:8787)`);
    return undefined;
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

export function existingFile(raw: Raw, problems: Problems, cwd: string): string | undefined {
  const text = str(raw, problems)?.trim();
  if (text === undefined) return undefined;
  const path = resolve(cwd, text);
  if (!existsSync(path)) {
    problems.add(raw.from, `file not found: ${path}`);
    return undefined;
  }
  return path;
}

/** TEST ONLY: `<speed>@<epochMs>`. */
export function testClock(raw: Raw, problems: Problems): ServerConfig['testClock'] | undefined {
  const text = str(raw, problems)?.trim();
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)@(\d+)$/.exec(text);
  const speed = Number(match?.[1]);
  const epochMs = Number(match?.[2]);
  if (match === null || !(speed > 0) || !Number.isSafeInteger(epochMs)) {
    problems.add(raw.from, 'must be <speed>@<epochMs> (e.g. 60@1767225600000); a test-only setting');
    return undefined;
  }
  return { speed, epochMs };
}

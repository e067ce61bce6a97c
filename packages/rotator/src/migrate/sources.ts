import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { invalidArgument } from '../errors.js';
import type { InstallationLike, MigrationInput } from './types.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'error';
}

/**
 * Reads a JSON file of installations: an array of `@slack/oauth` `Installation` objects, or
 * `{ "installations": [...] }`. Entries that are not objects are yielded as unreadable (reported).
 *
 * @throws TypeError `ERR_INVALID_ARG_VALUE` when the file is not JSON of that shape.
 */
export async function readInstallationsFile(path: string): Promise<MigrationInput[]> {
  if (typeof path !== 'string' || path === '') {
    throw invalidArgument('readInstallationsFile needs a file path', 'ERR_INVALID_ARG_TYPE');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw invalidArgument(`${path} is not a readable JSON file (${errorCode(error)})`);
  }
  const list = Array.isArray(parsed) ? parsed : isObject(parsed) ? parsed.installations : undefined;
  if (!Array.isArray(list)) {
    throw invalidArgument(`${path} must hold an array of installations or { "installations": [...] }`);
  }
  return list.map((entry, index) =>
    isObject(entry)
      ? (entry as InstallationLike)
      : { unreadable: true, source: `${path}[${index}]`, reason: 'not an object' },
  );
}

/** Options of {@link readFileInstallationStore}: the same as `new FileInstallationStore(...)`'s. */
export interface FileInstallationStoreLocation {
  /** The `baseDir` the store was created with (its default is `~/.bolt-js-app-installation`). */
  baseDir: string;
  /** The `clientId` it was created with, if any (it adds a `<clientId>` directory). */
  clientId?: string;
}

async function readJson(path: string): Promise<MigrationInput> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (isObject(value)) return value as InstallationLike;
    return { unreadable: true, source: path, reason: 'not a JSON object' };
  } catch (error) {
    return { unreadable: true, source: path, reason: `unreadable (${errorCode(error)})` };
  }
}

async function listDirs(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw invalidArgument(`cannot list the FileInstallationStore directory ${path} (${errorCode(error)})`);
  }
}

/**
 * Reads the files `@slack/oauth` 4's `FileInstallationStore` wrote, without going through it. Its
 * directory per installation is `<root>` + `/<enterpriseId>` (org-wide), `/<enterpriseId>-<teamId>`
 * (a workspace in a grid), or — for a plain workspace — `<teamId>` appended to `<root>` with no
 * separator (`<root>T0123`, a sibling of `<root>`: what `path.join(root, '') + teamId` gives), where
 * `<root>` is `baseDir`, or `baseDir/<clientId>` when the store was given a `clientId`. Both forms of
 * a workspace directory are read.
 *
 * In each directory, `app-latest` holds the last installation stored (its `bot` is the current one)
 * and `user-<userId>-latest` the last one stored for each user. Only these are read: the timestamped
 * history files hold older, possibly spent, tokens. Yields the bot (and installer) from
 * `app-latest`, then each `user-<id>-latest` without its `bot` (which may be older than
 * `app-latest`'s). Unreadable files are yielded as such (reported).
 *
 * @throws TypeError `ERR_INVALID_ARG_VALUE` when a directory cannot be listed.
 */
export async function* readFileInstallationStore(
  location: FileInstallationStoreLocation,
): AsyncGenerator<MigrationInput> {
  if (typeof location !== 'object' || location === null || typeof location.baseDir !== 'string') {
    throw invalidArgument('readFileInstallationStore needs { baseDir }', 'ERR_INVALID_ARG_TYPE');
  }
  const root = location.clientId === undefined ? location.baseDir : join(location.baseDir, location.clientId);
  const prefix = basename(root);
  const dirs = [
    ...(await listDirs(root)).map((name) => join(root, name)),
    ...(await listDirs(dirname(root)))
      .filter((name) => name.startsWith(prefix) && /^[A-Z][A-Z0-9]*$/.test(name.slice(prefix.length)))
      .map((name) => join(dirname(root), name)),
  ];
  for (const dir of dirs) {
    const files = (await readdir(dir)).sort();
    if (files.includes('app-latest')) yield await readJson(join(dir, 'app-latest'));
    for (const file of files) {
      if (!/^user-[^-]+-latest$/.test(file)) continue;
      const entry = await readJson(join(dir, file));
      yield 'unreadable' in entry ? entry : { ...entry, bot: undefined };
    }
  }
}

/**
 * The part of an `@slack/oauth` `InstallationStore` used here. It has no method that lists
 * installations, so you pass the queries (from your own records of which teams installed).
 */
export interface InstallationStoreLike {
  fetchInstallation(query: {
    teamId: string | undefined;
    enterpriseId: string | undefined;
    isEnterpriseInstall: boolean;
    userId?: string;
  }): Promise<unknown>;
}

/** One installation to fetch: `{ teamId }`, `{ enterpriseId, isEnterpriseInstall: true }`, with `userId` for a user's token. */
export interface InstallationQueryLike {
  teamId?: string | undefined;
  enterpriseId?: string | undefined;
  isEnterpriseInstall?: boolean | undefined;
  userId?: string | undefined;
}

/**
 * Fetches each query's installation from an existing `@slack/oauth` `InstallationStore`. A query
 * that fails is yielded as unreadable, named by its ids (the store's error message is not kept: it
 * might quote a token).
 */
export async function* fetchInstallations(
  store: InstallationStoreLike,
  queries: Iterable<InstallationQueryLike> | AsyncIterable<InstallationQueryLike>,
): AsyncGenerator<MigrationInput> {
  if (typeof store !== 'object' || store === null || typeof store.fetchInstallation !== 'function') {
    throw invalidArgument('fetchInstallations needs an InstallationStore', 'ERR_INVALID_ARG_TYPE');
  }
  for await (const query of queries) {
    const ids = `enterprise ${query.enterpriseId ?? '-'}, team ${query.teamId ?? '-'}, user ${query.userId ?? '-'}`;
    try {
      const installation = await store.fetchInstallation({
        teamId: query.teamId,
        enterpriseId: query.enterpriseId,
        isEnterpriseInstall: query.isEnterpriseInstall ?? false,
        ...(query.userId === undefined ? {} : { userId: query.userId }),
      });
      yield isObject(installation)
        ? (installation as InstallationLike)
        : { unreadable: true, source: ids, reason: 'fetchInstallation returned no object' };
    } catch (error) {
      yield { unreadable: true, source: ids, reason: `fetchInstallation failed (${errorCode(error)})` };
    }
  }
}

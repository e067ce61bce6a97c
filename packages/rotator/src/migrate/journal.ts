import { createHash } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { invalidArgument, LockTimeoutError, StorageError } from '../errors.js';

/**
 * One line of the migration journal. Legacy tokens appear only as a fingerprint (SHA-256).
 *
 * - `exchanging`: written (durably) before `oauth.v2.exchange` is sent.
 * - `done`: the chain Slack answered was saved in the store.
 * - `failed`: Slack refused, or the call was not made; `final` failures are never retried
 *   (`invalid_token`, `token_already_exchanged`…), the others are tried again by the next run.
 */
export interface JournalEntry {
  op: 'exchanging' | 'done' | 'failed';
  /** {@link fingerprintToken} of the legacy token. */
  fingerprint: string;
  /** The chain key the exchange is for (ids only). */
  chainKey: string;
  /** When it was written (epoch ms). */
  at: number;
  /** For `failed`: the failure code (Slack's error, or ours). */
  code?: string;
  /** For `failed`: Slack's `error` string, if Slack answered. */
  slackError?: string;
  /** For `failed`: never tried again. */
  final?: boolean;
}

/**
 * Where {@link migrateInstallations} records exchanges, so that a run that was killed resumes without
 * exchanging a token twice. {@link createFileJournal} is the default; implement this to keep the
 * journal elsewhere (a database table). `append` must be durable when it resolves.
 */
export interface MigrationJournal {
  /** Opens the journal (taking whatever guards one writer) and returns every entry, oldest first. */
  open(): Promise<JournalEntry[]>;
  /** Appends one entry; when the promise resolves, the entry survives a crash. */
  append(entry: JournalEntry): Promise<void>;
  /** Releases what `open` took. */
  close(): Promise<void>;
}

/** Options of {@link createFileJournal}. */
export interface FileJournalOptions {
  /** `fsync` after every line (and the directory when the file is created). Default true. */
  fsync?: boolean;
  /** Read only: no lock, `append` throws. What `dryRun` uses. */
  readOnly?: boolean;
}

/** The fingerprint of a legacy token kept in the journal: `sha256:<base64url>`, never the token. */
export function fingerprintToken(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('base64url')}`;
}

function parseLine(line: string): JournalEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = value as Partial<JournalEntry>;
  const known = entry.op === 'exchanging' || entry.op === 'done' || entry.op === 'failed';
  if (!known || typeof entry.fingerprint !== 'string' || typeof entry.chainKey !== 'string') return undefined;
  return entry as JournalEntry;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function storageError(message: string, cause: unknown): StorageError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new StorageError('store_failed', `[slack-rotator] ${message}${code ? ` (${code})` : ''}`, { cause });
}

/**
 * A journal in an append-only file of JSON lines, next to which a `<path>.lock` file holds the pid
 * of the one process writing it (a lock left by a process that died is taken over). A line torn by a
 * crash is ignored: the step after it never ran.
 *
 * @throws LockTimeoutError `lock_timeout` from `open()` when another live process holds the journal.
 * @throws StorageError `store_failed` when the file cannot be read or written.
 */
export function createFileJournal(path: string, options: FileJournalOptions = {}): MigrationJournal {
  if (typeof path !== 'string' || path === '') {
    throw invalidArgument('the journal must be a file path', 'ERR_INVALID_ARG_TYPE');
  }
  const sync = options.fsync ?? true;
  const readOnly = options.readOnly ?? false;
  const lockPath = `${path}.lock`;
  let fd: number | undefined;
  let locked = false;

  function lock(): void {
    const mine = `${process.pid}\n${hostname()}\n`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(lockPath, mine, { flag: 'wx' });
        locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
          throw storageError('cannot lock the journal', error);
      }
      const [pid, host] = readFileSync(lockPath, 'utf8').split('\n');
      const holder = Number(pid);
      if (host === hostname() && Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
        rmSync(lockPath, { force: true });
        continue;
      }
      throw new LockTimeoutError(
        'lock_timeout',
        `[slack-rotator] the migration journal is in use by process ${pid} on ${host}; if it is gone, delete ${lockPath}`,
      );
    }
    throw new LockTimeoutError('lock_timeout', `[slack-rotator] cannot take ${lockPath}`);
  }

  function readAll(): string {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw storageError('cannot read the journal', error);
    }
  }

  return {
    async open() {
      if (!readOnly) {
        lock();
        try {
          const created = readAll() === '';
          fd = openSync(path, 'a+');
          const size = fstatSync(fd).size;
          if (size > 0) {
            // A crash may have torn the last line: end it, so the next entry starts on its own line.
            const last = Buffer.alloc(1);
            readSync(fd, last, 0, 1, size - 1);
            if (last[0] !== 0x0a) writeSync(fd, '\n');
          }
          if (sync && created) {
            const dir = openSync(dirname(path), 'r');
            try {
              fsyncSync(dir);
            } finally {
              closeSync(dir);
            }
          }
        } catch (error) {
          throw storageError('cannot open the journal', error);
        }
      }
      return readAll()
        .split('\n')
        .map(parseLine)
        .filter((entry): entry is JournalEntry => entry !== undefined);
    },
    async append(entry) {
      if (fd === undefined) throw storageError('the journal is not open for writing', undefined);
      try {
        writeSync(fd, `${JSON.stringify(entry)}\n`);
        if (sync) fsyncSync(fd);
      } catch (error) {
        throw storageError('cannot write the journal', error);
      }
    },
    async close() {
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
      }
      if (locked) {
        rmSync(lockPath, { force: true });
        locked = false;
      }
    },
  };
}

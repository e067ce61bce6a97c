import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { PostgresPool } from './postgres-pool.js';

/** After a failed load of the key (no table yet, no privilege, no connection), the next try waits this long (ms). */
const RETRY_MS = 30_000;
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7_999;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The records a compare-and-set's NOTIFY carries to the waiters it wakes, sealed. PostgreSQL lets
 * any role that can connect to the database LISTEN on any channel, so a record (which holds tokens)
 * never goes out in the clear: it is sealed with AES-256-GCM under the key in the `…message_key`
 * table (made by `migrate`), which only roles that can read that table have. The associated data
 * binds each message to its channel and lock name: a message replayed under another name does not
 * open. A message is `<name>\n<key id>.<base64 of iv, tag, ciphertext>`; the key id is a hash of
 * the key, so a process that loaded another key (the row was replaced) reloads it.
 *
 * Without the key (the table is missing, the role may not read it, or it is not loaded yet) a
 * commit notifies the lock name alone and its waiters read the record again, as before.
 */
export interface CommitMessages {
  /** Starts loading the key in the background, unless it is loaded or a load failed recently. */
  prepare(): void;
  /** Settles when a load under way has ended (at once when none is). Never rejects. */
  settled(): Promise<void>;
  /** Whether the key is loaded. */
  ready(): boolean;
  /** The NOTIFY payload that carries `record` for lock `name`, or `undefined` without a key (or when too long). */
  seal(name: string, record: object): string | undefined;
  /** What a commit message about `name` carried (the text after its newline), or `undefined` if it does not open. */
  open(name: string, sealed: string): unknown;
}

interface Key {
  id: string;
  key: Buffer;
}

export function createCommitMessages(pool: PostgresPool, table: string, channel: string): CommitMessages {
  let current: Key | undefined;
  let loading: Promise<void> | undefined;
  let retryAt = 0;
  let reloadAt = 0;
  const sql = `SELECT key FROM ${table} WHERE id = 1`;
  const associated = (name: string) => Buffer.from(`slack-rotator commit\n${channel}\n${name}`);

  const load = () => {
    loading = loadKey().finally(() => {
      loading = undefined;
    });
  };
  const loadKey = async () => {
    try {
      const { rows } = await pool.query(sql);
      const key = rows[0]?.key;
      if (!Buffer.isBuffer(key) || key.length !== 32) throw new Error('no usable key');
      const id = createHash('sha256').update('slack-rotator message key id\n').update(key).digest('hex');
      current = { id: id.slice(0, 16), key };
    } catch {
      // Waiters re-read until the key is there (after `migrate`, or a GRANT).
      retryAt = performance.now() + RETRY_MS;
    }
  };

  const prepare = () => {
    if (current !== undefined || loading !== undefined || performance.now() < retryAt) return;
    load();
  };

  return {
    prepare,

    settled: () => loading ?? Promise.resolve(),

    ready: () => current !== undefined,

    seal(name: string, record: object): string | undefined {
      const key = current;
      if (key === undefined) {
        prepare();
        return undefined;
      }
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key.key, iv);
      cipher.setAAD(associated(name));
      const sealed = Buffer.concat([cipher.update(JSON.stringify(record), 'utf8'), cipher.final()]);
      const message = `${name}\n${key.id}.${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64')}`;
      return Buffer.byteLength(message) <= MAX_PAYLOAD_BYTES ? message : undefined;
    },

    open(name: string, sealed: string): unknown {
      const dot = sealed.indexOf('.');
      const key = current;
      if (key === undefined) {
        prepare();
        return undefined;
      }
      if (dot < 0 || sealed.slice(0, dot) !== key.id) {
        // Sealed with another key (the row was replaced): load it again, at most once per RETRY_MS.
        if (dot >= 0 && loading === undefined && performance.now() >= reloadAt) {
          reloadAt = performance.now() + RETRY_MS;
          load();
        }
        return undefined;
      }
      try {
        const bytes = Buffer.from(sealed.slice(dot + 1), 'base64');
        if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
        const decipher = createDecipheriv('aes-256-gcm', key.key, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(associated(name));
        decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        // Decoded as it is deciphered: no buffer of the plain text to join and decode again.
        const text =
          decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES), undefined, 'utf8') + decipher.final('utf8');
        return JSON.parse(text);
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Names the configured store and lock for humans without printing a password: URLs lose their
 * credentials, query and fragment.
 */
import { describeUrl } from '../backends-open.js';
import type { ServerConfig } from '../types.js';

/** `SQLite /var/lib/…/tokens.db`, `PostgreSQL postgres://host/db`, `Redis redis://host:6379`. */
export function describeStore(store: ServerConfig['store']): string {
  switch (store.kind) {
    case 'sqlite':
      return `SQLite ${store.path}`;
    case 'postgres':
      return `PostgreSQL ${describeUrl(store.url)}`;
    case 'redis':
      return `Redis ${describeUrl(store.url)}`;
  }
}

/** `the store's own lock` or `Redis redis://host:6379`. */
export function describeLock(config: ServerConfig): string {
  return config.lock.kind === 'same'
    ? `the store's own lock (${config.store.kind})`
    : `Redis ${describeUrl(config.lock.url)}`;
}

/**
 * Names the configured store and lock for humans without printing a password: URLs lose their
 * credentials, query and fragment.
 */
import type { ServerConfig } from '../types.js';

/** `postgres://db.internal:5432/tokens`: the URL without user, password, query or fragment. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** `SQLite /var/lib/…/tokens.db`, `PostgreSQL postgres://host/db`, `Redis redis://host:6379`. */
export function describeStore(store: ServerConfig['store']): string {
  switch (store.kind) {
    case 'sqlite':
      return `SQLite ${store.path}`;
    case 'postgres':
      return `PostgreSQL ${safeUrl(store.url)}`;
    case 'redis':
      return `Redis ${safeUrl(store.url)}`;
  }
}

/** `the store's own lock` or `Redis redis://host:6379`. */
export function describeLock(config: ServerConfig): string {
  return config.lock.kind === 'same'
    ? `the store's own lock (${config.store.kind})`
    : `Redis ${safeUrl(config.lock.url)}`;
}

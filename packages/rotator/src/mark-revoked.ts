import { type ChainSelector, chainSuffixOf } from './chain.js';
import type { Logger } from './logger.js';
import type { TokenRecord, TokenStore } from './store/types.js';

interface MarkDeps {
  store: TokenStore;
  clientId: string;
  now: () => number;
  logger: Logger;
  /** Reads a chain's current record (through the rotator's decryption). */
  read: (chainKey: string) => Promise<TokenRecord | undefined>;
  /** Drops a chain from the rotator's cache. */
  forget: (chainKey: string) => void;
}

/**
 * Marks the bot and user chains of an installation (or only `chains`) `revoked`, keeping the
 * records. Returns how many were marked.
 */
export async function markChainsRevoked(
  deps: MarkDeps,
  installationId: string,
  options: { chains?: ChainSelector[]; reason?: string },
): Promise<number> {
  const { store, clientId, now, logger } = deps;
  const wanted = options.chains?.map((chain) => chainSuffixOf(chain));
  const reason = options.reason ?? 'revoked';
  const prefix = `${clientId}:${installationId}:`;
  let marked = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list({ clientId, installationId, ...(cursor === undefined ? {} : { cursor }) });
    cursor = page.cursor;
    for (const found of page.records) {
      if (found.kind === 'config') continue;
      if (wanted !== undefined && !wanted.includes(found.chainKey.slice(prefix.length))) continue;
      // Compare-and-set like every write: a refresh racing the mark either lands first (and is
      // then marked) or loses its write.
      let record: TokenRecord | undefined = found;
      for (let attempt = 0; record !== undefined && record.status !== 'revoked' && attempt < 5; attempt++) {
        const next = await store.compareAndSet(record.chainKey, record.version, {
          status: 'revoked',
          lastErrorCode: reason,
          refreshIntent: null,
          updatedAt: now(),
        });
        if (next !== undefined) {
          marked++;
          deps.forget(next.chainKey);
          break;
        }
        record = await deps.read(found.chainKey);
      }
    }
  } while (cursor !== undefined);
  logger.info({ installationId, marked, reason }, 'slack-rotator chains marked revoked');
  return marked;
}

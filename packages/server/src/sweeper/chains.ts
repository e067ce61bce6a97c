/**
 * Streaming the active chains of every configured app in one order — `expiresAt`, then app, then
 * the store's `chainKey` order — one page per app in memory at a time.
 */
import type { ChainKeyInput, TokenRecord, TokenStore } from 'slack-rotator';

/** Records per `store.list` page. */
export const PAGE_SIZE = 500;

/** The active chains of one app expiring before `expiresBefore`, in the store's order. */
async function* chainsOfApp(
  store: TokenStore,
  clientId: string,
  expiresBefore: number,
): AsyncGenerator<TokenRecord> {
  let cursor: string | undefined;
  do {
    const page = await store.list({
      clientId,
      status: 'active',
      expiresBefore,
      limit: PAGE_SIZE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    cursor = page.cursor;
    yield* page.records;
  } while (cursor !== undefined);
}

/**
 * The active chains of every app in `clientIds`, merged by `expiresAt` (a k-way merge of each
 * app's ordered listing), so that a chain's position is its rank across the whole fleet.
 */
export async function* activeChains(
  store: TokenStore,
  clientIds: readonly string[],
  expiresBefore: number,
): AsyncGenerator<TokenRecord> {
  const sources = clientIds.map((clientId) => chainsOfApp(store, clientId, expiresBefore));
  const heads: (TokenRecord | undefined)[] = [];
  try {
    for (const source of sources) heads.push((await source.next()).value ?? undefined);
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head === undefined) continue;
        const current = best < 0 ? undefined : heads[best];
        if (current === undefined || head.expiresAt < current.expiresAt) best = i;
      }
      if (best < 0) return;
      yield heads[best] as TokenRecord;
      heads[best] = (await (sources[best] as AsyncGenerator<TokenRecord>).next()).value ?? undefined;
    }
  } finally {
    await Promise.all(sources.map((source) => source.return(undefined)));
  }
}

/** The rotator key naming a stored bot or user chain. */
export function keyOf(record: TokenRecord): ChainKeyInput {
  return {
    enterpriseId: record.enterpriseId,
    teamId: record.teamId,
    isEnterpriseInstall: record.isEnterpriseInstall,
    chain: record.kind === 'user' && record.userId !== null ? { userId: record.userId } : 'bot',
  };
}

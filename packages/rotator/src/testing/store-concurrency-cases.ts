import assert from 'node:assert/strict';
import type { TokenRecord, TokenStore } from '../store/types.js';
import { assertRecord, BASE_AT, fakeTokens, type StoreCaseFixture, sampleRecord } from './store-fixtures.js';
import type { SuiteCase } from './suite.js';

type StoreCase = SuiteCase<StoreCaseFixture>;

/** The counter the increment cases carry in `lastErrorCode`. */
const counterOf = (record: TokenRecord | undefined) =>
  Number(record?.lastErrorCode?.replace('count:', '') ?? 0);

/** Reads, then compare-and-sets `count + 1`, retrying on a lost race. Returns the attempts. */
async function increment(store: TokenStore, chainKey: string): Promise<number> {
  for (let attempt = 1; attempt <= 10_000; attempt += 1) {
    const current = await store.get(chainKey);
    assert.ok(current !== undefined, `${chainKey} vanished`);
    const next = await store.compareAndSet(chainKey, current.version, {
      lastErrorCode: `count:${counterOf(current) + 1}`,
      updatedAt: BASE_AT + current.version,
    });
    if (next !== undefined) return attempt;
    // Let the winner's writes land before reading again.
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`an increment of ${chainKey} never won a compare-and-set`);
}

/** Races on one chain; the peer (a second client when the adapter has one) takes half of them. */
export const concurrencyCases: readonly StoreCase[] = [
  {
    name: '50 concurrent compareAndSet calls on one version: exactly one wins, the version is +1',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      const updates = Array.from({ length: 50 }, (_, i) => ({
        ...fakeTokens(),
        lastErrorCode: `writer:${i}`,
        updatedAt: BASE_AT + i,
      }));
      const results = await Promise.all(
        updates.map((update, i) => (i % 2 === 0 ? store : peer).compareAndSet(input.chainKey, 1, update)),
      );
      const winners = results.flatMap((result, i) => (result === undefined ? [] : [i]));
      assert.equal(winners.length, 1, `exactly one compareAndSet must win, ${winners.length} did`);
      const winner = updates[winners[0] as number];
      const stored = await store.get(input.chainKey);
      assertRecord(stored, { ...input, ...winner, version: 2 } as TokenRecord, "the winner's write");
    },
  },
  {
    name: '20 workers doing read-compareAndSet-retry increments on two chains lose no update',
    async run({ store, peer }) {
      const chains = [sampleRecord('T0000001'), sampleRecord('T0000002')];
      for (const record of chains) await store.put(record);
      const workers = 20;
      const rounds = 5;
      let attempts = 0;
      await Promise.all(
        Array.from({ length: workers }, async (_, worker) => {
          const client = worker % 2 === 0 ? store : peer;
          for (let round = 0; round < rounds; round += 1) {
            const chain = chains[(worker + round) % chains.length] as (typeof chains)[number];
            const tries = await increment(client, chain.chainKey);
            attempts += tries;
          }
        }),
      );
      let total = 0;
      for (const record of chains) {
        const stored = await store.get(record.chainKey);
        total += counterOf(stored);
        assert.equal(stored?.version, 1 + counterOf(stored), 'every increment is exactly one version');
        assert.ok(stored?.accessToken === record.accessToken, 'the increments kept the access token');
      }
      assert.equal(total, workers * rounds, 'the counters add up to every increment');
      assert.ok(attempts >= workers * rounds, 'every increment took at least one attempt');
    },
  },
  {
    name: 'concurrent puts of one chain all succeed, each incrementing the version',
    async run({ store, peer }) {
      const inputs = Array.from({ length: 20 }, () => sampleRecord('T0000001', fakeTokens()));
      const results = await Promise.all(inputs.map((input, i) => (i % 2 === 0 ? store : peer).put(input)));
      const versions = results.map((result) => result.version).sort((a, b) => a - b);
      assert.deepEqual(
        versions,
        inputs.map((_, i) => i + 1),
        'each put gets its own version',
      );
      const last = results.find((result) => result.version === 20) as TokenRecord;
      const stored = await store.get(last.chainKey);
      assert.ok(stored?.refreshToken === last.refreshToken, 'the last put is the one stored');
      assert.equal(stored?.version, 20);
    },
  },
];

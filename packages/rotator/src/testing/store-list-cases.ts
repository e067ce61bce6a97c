import assert from 'node:assert/strict';
import type { ChainStatus, ListQuery, NewTokenRecord, TokenStore } from '../store/types.js';
import { BASE_AT, listAll, type StoreCaseFixture, sampleRecord } from './store-fixtures.js';
import type { SuiteCase } from './suite.js';

type StoreCase = SuiteCase<StoreCaseFixture>;

const STATUSES: ChainStatus[] = ['active', 'reauthorization_required', 'revoked'];

/** `count` records over 3 teams of 2 apps, with expiries that tie in pairs and mixed statuses. */
async function seed(store: TokenStore, count: number): Promise<NewTokenRecord[]> {
  const records: NewTokenRecord[] = [];
  for (let i = 0; i < count; i += 1) {
    const clientId = i % 2 === 0 ? '1111.2222' : '3333.4444';
    const installationId = `T00000${i % 3}`;
    const userId = `U${String(i).padStart(5, '0')}`;
    records.push(
      sampleRecord(installationId, {
        clientId,
        chainKey: `${clientId}:${installationId}:user:${userId}`,
        kind: 'user',
        userId,
        // Expiries descend as keys ascend, and tie in pairs, so both orders and the tie-break show.
        expiresAt: BASE_AT + Math.floor((count - i) / 2) * 1000,
        status: STATUSES[i % 3] as ChainStatus,
      }),
    );
  }
  for (const record of records) await store.put(record);
  return records;
}

const keys = (records: readonly { chainKey: string }[]) => records.map((record) => record.chainKey);
const byKey = (a: NewTokenRecord, b: NewTokenRecord) => (a.chainKey < b.chainKey ? -1 : 1);
const byExpiry = (a: NewTokenRecord, b: NewTokenRecord) => a.expiresAt - b.expiresAt || byKey(a, b);

/** `list`: filters, order and keyset pagination. */
export const listCases: readonly StoreCase[] = [
  {
    name: 'list of an empty store is one empty page',
    async run({ store }) {
      const page = await store.list();
      assert.deepEqual(page.records, []);
      assert.equal(page.cursor, undefined);
    },
  },
  {
    name: 'list returns every chain ordered by chainKey, with versions',
    async run({ store }) {
      const records = await seed(store, 12);
      await store.compareAndSet(records[0]?.chainKey as string, 1, {
        lastErrorCode: 'x',
        updatedAt: BASE_AT,
      });
      const page = await store.list();
      assert.deepEqual(keys(page.records), keys([...records].sort(byKey)));
      assert.equal(page.cursor, undefined, 'a page that holds everything is the last');
      const first = page.records.find((record) => record.chainKey === records[0]?.chainKey);
      assert.equal(first?.version, 2);
      assert.equal(first?.lastErrorCode, 'x');
    },
  },
  {
    name: 'list filters by clientId, installationId and status, each alone and together',
    async run({ store }) {
      const records = await seed(store, 18);
      const cases: [ListQuery, (record: NewTokenRecord) => boolean][] = [
        [{ clientId: '3333.4444' }, (r) => r.clientId === '3333.4444'],
        [{ installationId: 'T000001' }, (r) => r.installationId === 'T000001'],
        [{ status: 'revoked' }, (r) => r.status === 'revoked'],
        [
          { clientId: '1111.2222', installationId: 'T000002', status: 'active' },
          (r) => r.clientId === '1111.2222' && r.installationId === 'T000002' && r.status === 'active',
        ],
        [{ clientId: '9999.9999' }, () => false],
      ];
      for (const [query, keep] of cases) {
        const { records: listed } = await listAll(store, { ...query, limit: 4 });
        assert.deepEqual(
          keys(listed),
          keys(records.filter(keep).sort(byKey)),
          `list ${JSON.stringify(query)}`,
        );
      }
    },
  },
  {
    name: 'list with expiresBefore keeps chains expiring strictly before, ordered by expiresAt then chainKey',
    async run({ store }) {
      const records = await seed(store, 20);
      const before = BASE_AT + 6000;
      const expected = records.filter((record) => record.expiresAt < before).sort(byExpiry);
      assert.ok(expected.length > 2 && expected.length < records.length, 'the seed straddles the bound');
      const page = await store.list({ expiresBefore: before });
      assert.deepEqual(keys(page.records), keys(expected));
      const filtered = await store.list({ expiresBefore: before, status: 'active', clientId: '1111.2222' });
      const keep = (r: NewTokenRecord) => r.status === 'active' && r.clientId === '1111.2222';
      assert.deepEqual(keys(filtered.records), keys(expected.filter(keep)));
    },
  },
  {
    name: 'list pages through more records than the limit, in both orders, without gaps or repeats',
    async run({ store }) {
      const records = await seed(store, 23);
      for (const limit of [1, 5, 7, 23, 50]) {
        const plain = await listAll(store, { limit });
        assert.deepEqual(keys(plain.records), keys([...records].sort(byKey)), `by chainKey, limit ${limit}`);
        assert.equal(plain.pages, Math.max(1, Math.ceil(23 / limit)), `pages by chainKey, limit ${limit}`);
        const expiring = await listAll(store, { limit, expiresBefore: BASE_AT + 1e9 });
        assert.deepEqual(
          keys(expiring.records),
          keys([...records].sort(byExpiry)),
          `by expiresAt, limit ${limit}`,
        );
      }
      const first = await store.list({ limit: 5 });
      assert.equal(first.records.length, 5);
      assert.equal(typeof first.cursor, 'string');
    },
  },
  {
    name: 'list holds at most 100 records a page by default',
    async run({ store }) {
      await seed(store, 101);
      const page = await store.list();
      assert.equal(page.records.length, 100);
      assert.ok(page.cursor !== undefined, 'a 101st record means another page');
      const rest = await store.list({ cursor: page.cursor });
      assert.equal(rest.records.length, 1);
      assert.equal(rest.cursor, undefined);
    },
  },
  {
    name: 'list pages stay stable under concurrent inserts, updates and deletes',
    async run({ store, peer }) {
      const records = await seed(store, 20);
      for (const expiresBefore of [undefined, BASE_AT + 1e9]) {
        const base = expiresBefore === undefined ? {} : { expiresBefore };
        const sorted = [...records].sort(expiresBefore === undefined ? byKey : byExpiry);
        const seen: string[] = [];
        let page = await store.list({ ...base, limit: 6 });
        seen.push(...keys(page.records));
        const tag = expiresBefore === undefined ? 'k' : 'e';
        // Between pages, a peer writes around the cursor: records the listing has passed and not yet reached.
        const early = sampleRecord('T000000', {
          chainKey: `0000.0000:T0:${tag}`,
          clientId: '0000.0000',
          expiresAt: 0,
        });
        const late = sampleRecord('T000000', { chainKey: `zzzz.zzzz:T0:${tag}`, clientId: 'zzzz.zzzz' });
        await peer.put(early);
        await peer.put({ ...late, expiresAt: BASE_AT + 1e8 });
        const removed = sorted[15] as NewTokenRecord;
        await peer.delete({ chainKey: removed.chainKey });
        const touched = sorted[12] as NewTokenRecord;
        const current = await peer.get(touched.chainKey);
        await peer.compareAndSet(touched.chainKey, current?.version ?? 0, {
          lastErrorCode: 'y',
          updatedAt: BASE_AT,
        });
        while (page.cursor !== undefined) {
          page = await store.list({ ...base, limit: 6, cursor: page.cursor });
          seen.push(...keys(page.records));
        }
        const expected = [...keys(sorted.filter((record) => record !== removed)), late.chainKey];
        assert.deepEqual(seen, expected, `a listing ${expiresBefore === undefined ? 'by key' : 'by expiry'}`);
        await peer.put(removed);
        await peer.delete({ chainKey: early.chainKey });
        await peer.delete({ chainKey: late.chainKey });
      }
    },
  },
];

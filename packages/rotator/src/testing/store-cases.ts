import assert from 'node:assert/strict';
import type { TokenRecord } from '../store/types.js';
import {
  assertRecord,
  assertStored,
  BASE_AT,
  fakeTokens,
  type StoreCaseFixture,
  sampleRecord,
} from './store-fixtures.js';
import type { SuiteCase } from './suite.js';

type StoreCase = SuiteCase<StoreCaseFixture>;

/** `get` and `put`, and the copying of records in and out. */
export const recordCases: readonly StoreCase[] = [
  {
    name: 'get of a missing chain is undefined',
    async run({ store }) {
      assert.equal(await store.get('1111.2222:T404:bot'), undefined);
    },
  },
  {
    name: 'put inserts a chain with version 1 and get returns it',
    async run({ store, peer }) {
      const input = sampleRecord('T0000001', { scopes: ['chat:write'], refreshedAt: BASE_AT + 5 });
      const stored = await store.put(input);
      assertRecord(stored, { ...input, version: 1 }, 'put result');
      await assertStored(store, input.chainKey, { ...input, version: 1 }, 'get after put');
      await assertStored(peer, input.chainKey, { ...input, version: 1 }, 'get from the peer after put');
    },
  },
  {
    name: 'put keeps every field, including nulls, booleans and user chains',
    async run({ store }) {
      const input = sampleRecord('E0000001', {
        chainKey: '1111.2222:E0000001:user:U0000009',
        enterpriseId: 'E0000001',
        teamId: null,
        isEnterpriseInstall: true,
        kind: 'user',
        userId: 'U0000009',
        appId: null,
        botId: null,
        botUserId: null,
        scopes: [],
        fallbackRefreshToken: 'xoxe-1-fake-fallback',
        status: 'reauthorization_required',
        lastErrorCode: 'invalid_refresh_token',
      });
      await store.put(input);
      await assertStored(store, input.chainKey, { ...input, version: 1 }, 'get after put');
    },
  },
  {
    name: 'put replaces every field of an existing chain and increments the version',
    async run({ store }) {
      const first = sampleRecord('T0000001', { fallbackRefreshToken: 'xoxe-1-fake-old', lastErrorCode: 'x' });
      await store.put(first);
      await store.compareAndSet(first.chainKey, 1, {
        lastErrorCode: 'slack_unavailable',
        updatedAt: BASE_AT + 1,
      });
      const second = sampleRecord('T0000001', {
        ...fakeTokens(),
        scopes: ['chat:write', 'users:read'],
        expiresAt: BASE_AT + 99,
        userId: 'U0000002',
        createdAt: BASE_AT + 50,
        updatedAt: BASE_AT + 50,
      });
      const stored = await store.put(second);
      assertRecord(stored, { ...second, version: 3 }, 'put over an existing chain');
      await assertStored(store, second.chainKey, { ...second, version: 3 }, 'get after the second put');
    },
  },
  {
    name: 'records are copies: mutating a returned record changes nothing stored',
    async run({ store }) {
      const input = sampleRecord();
      const put = await store.put(input);
      const got = (await store.get(input.chainKey)) as TokenRecord;
      for (const record of [put, got]) {
        record.scopes.push('admin');
        record.accessToken = 'xoxe.xoxb-mutated';
        record.version = 99;
        record.status = 'revoked';
      }
      const again = await store.get(input.chainKey);
      assert.notEqual(again, got, 'get must return a new object each time');
      assertRecord(again, { ...input, version: 1 }, 'get after mutating returned records');
    },
  },
  {
    name: 'records are copies: mutating an input after put or compareAndSet changes nothing stored',
    async run({ store }) {
      const input = sampleRecord();
      const expected = { ...input, scopes: [...input.scopes], version: 1 };
      await store.put(input);
      input.scopes.push('admin');
      input.refreshToken = 'xoxe-1-mutated';
      await assertStored(store, input.chainKey, expected, 'get after mutating the put input');

      const update = { scopes: ['a:read'], updatedAt: BASE_AT + 1 };
      await store.compareAndSet(input.chainKey, 1, update);
      update.scopes.push('b:write');
      const stored = await store.get(input.chainKey);
      assert.deepEqual(stored?.scopes, ['a:read']);
    },
  },
];

/** `compareAndSet`: the fence of every write. */
export const compareAndSetCases: readonly StoreCase[] = [
  {
    name: 'compareAndSet succeeds on the expected version and increments it',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      const tokens = fakeTokens();
      const update = {
        ...tokens,
        expiresAt: BASE_AT + 1000,
        refreshedAt: BASE_AT + 10,
        updatedAt: BASE_AT + 10,
      };
      const result = await store.compareAndSet(input.chainKey, 1, update);
      const expected = { ...input, ...update, version: 2 };
      assertRecord(result, expected, 'compareAndSet result');
      await assertStored(peer, input.chainKey, expected, 'get after compareAndSet');
    },
  },
  {
    name: 'compareAndSet keeps the fields an update leaves out',
    async run({ store }) {
      const input = sampleRecord('T0000001', { fallbackRefreshToken: 'xoxe-1-fake-fallback' });
      await store.put(input);
      await store.compareAndSet(input.chainKey, 1, {
        lastErrorCode: 'slack_unavailable',
        updatedAt: BASE_AT + 1,
      });
      const result = await store.compareAndSet(input.chainKey, 2, {
        botId: 'B0000009',
        updatedAt: BASE_AT + 2,
      });
      const expected = {
        ...input,
        lastErrorCode: 'slack_unavailable',
        botId: 'B0000009',
        updatedAt: BASE_AT + 2,
      };
      assertRecord(result, { ...expected, version: 3 }, 'after two partial updates');
      await assertStored(store, input.chainKey, { ...expected, version: 3 }, 'get after two partial updates');
    },
  },
  {
    name: 'compareAndSet sets nullable fields to null and changes the status',
    async run({ store }) {
      const input = sampleRecord('T0000001', {
        fallbackRefreshToken: 'xoxe-1-fake-fallback',
        lastErrorCode: 'slack_unavailable',
        refreshedAt: BASE_AT,
        appId: 'A0000001',
      });
      await store.put(input);
      const update = {
        fallbackRefreshToken: null,
        lastErrorCode: null,
        refreshedAt: null,
        appId: null,
        status: 'revoked' as const,
        scopes: [],
        updatedAt: BASE_AT + 3,
      };
      await store.compareAndSet(input.chainKey, 1, update);
      await assertStored(store, input.chainKey, { ...input, ...update, version: 2 }, 'get after nulling');
    },
  },
  {
    name: 'compareAndSet on a stale or future version returns undefined and changes nothing',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      const current = await store.compareAndSet(input.chainKey, 1, {
        ...fakeTokens(),
        updatedAt: BASE_AT + 1,
      });
      assert.ok(current !== undefined, 'the first compareAndSet must succeed');
      for (const version of [1, 3, 1000]) {
        const stale = await peer.compareAndSet(input.chainKey, version, {
          ...fakeTokens(),
          updatedAt: BASE_AT + 2,
        });
        assert.equal(
          stale,
          undefined,
          `compareAndSet with version ${version} must fail when the chain is at 2`,
        );
      }
      await assertStored(store, input.chainKey, current, 'get after the failed writes');
    },
  },
  {
    name: 'compareAndSet of a missing chain returns undefined and creates nothing',
    async run({ store }) {
      const chainKey = '1111.2222:T404:bot';
      assert.equal(
        await store.compareAndSet(chainKey, 1, { ...fakeTokens(), updatedAt: BASE_AT }),
        undefined,
      );
      assert.equal(await store.get(chainKey), undefined);
      assert.equal((await store.list()).records.length, 0);
    },
  },
  {
    name: 'a put after a delete starts again at version 1',
    async run({ store }) {
      const input = sampleRecord();
      await store.put(input);
      await store.put(input);
      assert.equal(await store.delete({ chainKey: input.chainKey }), 1);
      assert.equal((await store.put(input)).version, 1);
    },
  },
];

/** `delete` by chain and by installation. */
export const deleteCases: readonly StoreCase[] = [
  {
    name: 'delete of a chain removes it and returns 1, then 0',
    async run({ store, peer }) {
      const kept = sampleRecord('T0000002');
      const input = sampleRecord('T0000001');
      await store.put(input);
      await store.put(kept);
      assert.equal(await store.delete({ chainKey: input.chainKey }), 1);
      assert.equal(await peer.get(input.chainKey), undefined);
      assert.equal(await store.delete({ chainKey: input.chainKey }), 0);
      await assertStored(store, kept.chainKey, { ...kept, version: 1 }, 'the other chain after delete');
    },
  },
  {
    name: 'delete of an installation removes all its chains and nothing else',
    async run({ store }) {
      const bot = sampleRecord('T0000001');
      const user = sampleRecord('T0000001', {
        chainKey: '1111.2222:T0000001:user:U1',
        kind: 'user',
        userId: 'U1',
      });
      const otherTeam = sampleRecord('T0000002');
      const otherApp = sampleRecord('T0000001', {
        clientId: '3333.4444',
        chainKey: '3333.4444:T0000001:bot',
      });
      for (const record of [bot, user, otherTeam, otherApp]) await store.put(record);
      assert.equal(await store.delete({ clientId: '1111.2222', installationId: 'T0000001' }), 2);
      assert.equal(await store.get(bot.chainKey), undefined);
      assert.equal(await store.get(user.chainKey), undefined);
      await assertStored(store, otherTeam.chainKey, { ...otherTeam, version: 1 }, 'another team');
      await assertStored(store, otherApp.chainKey, { ...otherApp, version: 1 }, 'another app, same team');
      assert.equal(await store.delete({ clientId: '1111.2222', installationId: 'T0000001' }), 0);
    },
  },
];

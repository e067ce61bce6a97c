import assert from 'node:assert/strict';
import type { RefreshIntent } from '../store/types.js';
import {
  assertRecord,
  assertStored,
  BASE_AT,
  fakeTokens,
  type StoreCaseFixture,
  sampleRecord,
} from './store-fixtures.js';
import type { SuiteCase } from './suite.js';

const intent = (version: number, overrides: Partial<RefreshIntent> = {}): RefreshIntent => ({
  version,
  fingerprint: 'sha256:Zm9vYmFy',
  startedAt: BASE_AT + 5,
  deadlineAt: BASE_AT + 5_005,
  ...overrides,
});

/** The write-ahead refresh intent: written without a version bump, cleared by compare-and-set. */
export const intentCases: readonly SuiteCase<StoreCaseFixture>[] = [
  {
    name: 'recordIntent on the expected version writes the intent and changes nothing else',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      assert.equal(await store.recordIntent(input.chainKey, 1, intent(1)), true);
      await assertStored(
        peer,
        input.chainKey,
        { ...input, refreshIntent: intent(1), version: 1 },
        'after recordIntent',
      );
    },
  },
  {
    name: 'recordIntent on another version, or of a missing chain, returns false and changes nothing',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      assert.equal(await store.recordIntent(input.chainKey, 2, intent(2)), false);
      assert.equal(await store.recordIntent('1111.2222:T404:bot', 1, intent(1)), false);
      await assertStored(peer, input.chainKey, { ...input, version: 1 }, 'after refused recordIntents');
      assert.equal(await peer.get('1111.2222:T404:bot'), undefined);
    },
  },
  {
    name: 'recordIntent(null) clears; compareAndSet keeps an intent it does not mention and clears one set to null',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      await store.recordIntent(input.chainKey, 1, intent(1));
      assert.equal(await store.recordIntent(input.chainKey, 1, null), true);
      await assertStored(peer, input.chainKey, { ...input, version: 1 }, 'after clearing');

      await store.recordIntent(input.chainKey, 1, intent(1));
      const kept = await store.compareAndSet(input.chainKey, 1, {
        lastErrorCode: 'x',
        updatedAt: BASE_AT + 1,
      });
      assertRecord(
        kept,
        {
          ...input,
          refreshIntent: intent(1),
          lastErrorCode: 'x',
          updatedAt: BASE_AT + 1,
          version: 2,
        },
        'compareAndSet that leaves the intent out',
      );
      const tokens = fakeTokens();
      const cleared = await store.compareAndSet(input.chainKey, 2, {
        ...tokens,
        refreshIntent: null,
        updatedAt: BASE_AT + 2,
      });
      const expected = { ...input, ...tokens, lastErrorCode: 'x', updatedAt: BASE_AT + 2, version: 3 };
      assertRecord(cleared, expected, 'compareAndSet that clears the intent');
      await assertStored(peer, input.chainKey, expected, 'after the clearing compareAndSet');
    },
  },
  {
    name: 'an intent is a copy; put of a new installation replaces it',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      const given = intent(1);
      await store.recordIntent(input.chainKey, 1, given);
      given.fingerprint = 'changed';
      const read = await peer.get(input.chainKey);
      assert.equal(read?.refreshIntent?.fingerprint, 'sha256:Zm9vYmFy');
      if (read?.refreshIntent) read.refreshIntent.deadlineAt = 0;
      assert.equal((await peer.get(input.chainKey))?.refreshIntent?.deadlineAt, BASE_AT + 5_005);
      const replaced = await store.put({ ...input, refreshIntent: null });
      assert.equal(replaced.refreshIntent, null);
      assert.equal(replaced.version, 2);
    },
  },
  {
    name: 'a stale writer cannot record an intent after a peer stored a new pair',
    async run({ store, peer }) {
      const input = sampleRecord();
      await store.put(input);
      await peer.compareAndSet(input.chainKey, 1, {
        ...fakeTokens(),
        refreshIntent: null,
        updatedAt: BASE_AT + 1,
      });
      assert.equal(await store.recordIntent(input.chainKey, 1, intent(1)), false);
      assert.equal((await peer.get(input.chainKey))?.refreshIntent, null);
    },
  },
  {
    name: 'an invalid intent is a TypeError naming it',
    async run({ store }) {
      const input = sampleRecord();
      await store.put(input);
      await assert.rejects(
        store.recordIntent(input.chainKey, 1, { version: 1 } as RefreshIntent),
        (error: unknown) => error instanceof TypeError && /intent/.test(error.message),
      );
    },
  },
];

// maxConcurrentRefreshes: how many refresh requests one rotator has at Slack at once. In a storm a
// process holding hundreds of refresh locks would otherwise read hundreds of answers at once while
// its own waiting callers and commits sit unread (docs/BENCHMARKS.md).
import { afterEach, describe, expect, test } from 'vitest';
import { createLocalLock } from '../src/lock/local.js';
import { createSlots } from '../src/slots.js';
import { staleOperations, WINDOW } from '../src/turns.js';
import { type Harness, harness } from './helpers/setup.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('createSlots', () => {
  test('at most `size` holders; waiters get a slot first-in first-out as slots are given back', async () => {
    const slots = createSlots(2);
    const order: string[] = [];
    await slots.take();
    await slots.take();
    const third = slots.take().then(() => order.push('third'));
    const fourth = slots.take().then(() => order.push('fourth'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    slots.give();
    await third;
    expect(order).toEqual(['third']);
    slots.give();
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
    // Both given back: two free slots again, taken at once.
    slots.give();
    slots.give();
    let taken = 0;
    void slots.take().then(() => taken++);
    void slots.take().then(() => taken++);
    await new Promise((resolve) => setImmediate(resolve));
    expect(taken).toBe(2);
  });
});

describe('maxConcurrentRefreshes', () => {
  test('bounds the refresh requests at Slack at once; every due chain is still refreshed', async () => {
    let inFlight = 0;
    let most = 0;
    const counting: typeof fetch = async (input, init) => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        const response = await fetch(input, init);
        // Held until the body is read, as the rotator does.
        const body = await response.arrayBuffer();
        return new Response(body, { status: response.status, headers: response.headers });
      } finally {
        inFlight--;
      }
    };
    h = await harness({ slack: { latencyMs: 30 }, rotator: { maxConcurrentRefreshes: 2, fetch: counting } });
    const teams = Array.from({ length: 7 }, (_, i) => `T${i}`);
    for (const teamId of teams) await h.installWith({ teamId }, 0);
    const before = await Promise.all(
      teams.map((teamId) => h?.store.get(`${h.slack.clientId}:${teamId}:bot`)),
    );

    await Promise.all(teams.map((teamId) => h?.rotator.getToken({ teamId })));

    expect(most).toBe(2);
    const refreshes = h.slack.calls.filter((call) => call.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(teams.length);
    const after = await Promise.all(teams.map((teamId) => h?.store.get(`${h.slack.clientId}:${teamId}:bot`)));
    after.forEach((record, i) => {
      expect(record?.version).toBeGreaterThan(before[i]?.version ?? Number.POSITIVE_INFINITY);
    });
  });

  test('acquires that wait for another holder stay outside the window: more than WINDOW of them do not stall the holder', async () => {
    // A lock without `wait`: the second rotator's acquires block until the first one releases. Were
    // they counted in the window, they would fill it and the holder's own steps could not start.
    const lock = createLocalLock();
    h = await harness({ slack: { latencyMs: 20 }, rotator: { lock, lockWaitMs: 60_000 } });
    const other = h.another({ lock, lockWaitMs: 60_000 });
    const teams = Array.from({ length: WINDOW + 36 }, (_, i) => `T${i}`);
    for (const teamId of teams) await h.installWith({ teamId }, 0);
    const staleBefore = staleOperations();
    const tokens = await Promise.all(
      teams.flatMap((teamId) => [h?.rotator.getToken({ teamId }), other.getToken({ teamId })]),
    );
    expect(tokens.every((token) => typeof token === 'string')).toBe(true);
    const refreshes = h.slack.calls.filter((call) => call.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(teams.length);
    // The window never filled with blocked acquires (it would have let them go only as stale).
    expect(staleOperations() - staleBefore).toBe(0);
  }, 60_000);

  test('must be a positive integer', async () => {
    h = await harness();
    expect(() => h?.another({ maxConcurrentRefreshes: 0 })).toThrow(
      /maxConcurrentRefreshes must be a positive integer/,
    );
    expect(() => h?.another({ maxConcurrentRefreshes: 2.5 })).toThrow(TypeError);
  });
});

import { afterEach, describe, expect, test } from 'vitest';
import { ReauthorizationRequiredError, RetryLaterError } from '../src/errors.js';
import type { RotatorEvents } from '../src/events.js';
import type { FakeSlackOptions } from '../src/testing/fake-slack.js';
import { type Harness, harness, rejection } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/**
 * A refresh whose answer is lost (Slack rotated, then the connection dropped) and whose holder
 * gives up at once, as one killed right after Slack answered would: its intent stays behind.
 */
async function loseAnAnswer(slack: FakeSlackOptions) {
  h = await harness({ slack, rotator: { ambiguousRetryDelaysMs: [] } });
  const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
  const before = await h.store.get(chainKey);
  h.slack.injectFault('rotate_then_drop');
  const error = await rejection(h.rotator.refresh({ teamId: 'T1' }));
  expect((error as RetryLaterError).code).toBe('slack_unavailable');
  const left = await h.store.get(chainKey);
  expect(left?.version).toBe(before?.version);
  expect(left?.refreshIntent?.version).toBe(before?.version);
  expect(left?.refreshIntent?.fingerprint).toMatch(/^sha256:/);
  expect(JSON.stringify(left?.refreshIntent).includes(before?.refreshToken as string)).toBe(false);
  const events: RotatorEvents['reauthorization_required'][] = [];
  const next = h.another();
  next.on('reauthorization_required', (e) => events.push(e));
  return { chainKey, next, events };
}

describe('refresh intents (write-ahead)', () => {
  test('an intent is written before the request, without a version bump, and cleared with the new pair', async () => {
    let during: { version?: number | undefined; intent?: unknown } = {};
    h = await harness({
      rotator: {
        fetch: async (url, init) => {
          if (String(url).endsWith('oauth.v2.access')) {
            const record = await h.store.get(`${h.slack.clientId}:T1:bot`);
            during = { version: record?.version, intent: record?.refreshIntent };
          }
          return fetch(url, init);
        },
      },
    });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const before = await h.store.get(chainKey);
    await h.rotator.getToken({ teamId: 'T1' });
    expect(during.version).toBe(before?.version);
    expect(during.intent).toMatchObject({
      version: before?.version,
      fingerprint: expect.stringMatching(/^sha256:/),
    });
    const after = await h.store.get(chainKey);
    expect(after?.refreshIntent).toBeNull();
    expect(after?.lastErrorCode).toBeNull();
    expect(after?.version).toBe((before?.version as number) + 1);
  });

  test.each(['rate_limited', 'http_500'] as const)(
    'an answer that spent nothing (%s, retried) leaves no intent',
    async (fault) => {
      h = await harness({ rotator: { rateLimitMaxWaitMs: 10 } });
      const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
      h.slack.injectFault(fault, { retryAfterSeconds: 0 });
      await h.rotator.getToken({ teamId: 'T1' });
      const after = await h.store.get(chainKey);
      expect(after?.refreshIntent).toBeNull();
      // A 5xx may have rotated: the success that followed it is remembered as a possible fork.
      expect(after?.lastErrorCode).toBe(fault === 'http_500' ? 'maybe_forked' : null);
    },
  );

  test('a configuration error clears the intent it wrote', async () => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    await rejection(h.another({ clientSecret: 'wrong' }).refresh({ teamId: 'T1' }, { force: true }));
    expect((await h.store.get(chainKey))?.refreshIntent).toBeNull();
  });
});

describe('lost rotations are detected every time', () => {
  test('strict single-use tokens: the next refresh is refused and the chain is marked lost_rotation', async () => {
    const { chainKey, next, events } = await loseAnAnswer({ refreshGraceMs: 0 });
    const error = await rejection(next.getToken({ teamId: 'T1' }));
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect((error as ReauthorizationRequiredError).code).toBe('lost_rotation');
    const marked = await h.store.get(chainKey);
    expect(marked?.status).toBe('reauthorization_required');
    expect(marked?.lastErrorCode).toBe('lost_rotation');
    expect(marked?.refreshIntent).toBeNull();
    expect(events.map((e) => e.cause)).toEqual(['lost_rotation']);
  });

  test('inside the grace period, when Slack keeps the last sibling: the retry saves the chain', async () => {
    const { chainKey, next, events } = await loseAnAnswer({ refreshGraceMs: 2_000, siblingSurvivor: 'last' });
    const token = await next.getToken({ teamId: 'T1' });
    const after = await h.store.get(chainKey);
    expect(token === after?.accessToken).toBe(true);
    expect(after?.status).toBe('active');
    expect(after?.lastErrorCode).toBe('maybe_forked');
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
    expect(events).toHaveLength(0);
    // The next rotation works and forgets the suspicion.
    const info = await next.refresh({ teamId: 'T1' }, { force: true });
    expect(h.slack.peekAccessToken(info.token)).toBe('active');
    expect((await h.store.get(chainKey))?.lastErrorCode).toBeNull();
  });

  test('inside the grace period, when Slack keeps the first sibling: the chain dies later, still as lost_rotation', async () => {
    const { chainKey, next, events } = await loseAnAnswer({ refreshGraceMs: 200, siblingSurvivor: 'first' });
    await next.getToken({ teamId: 'T1' });
    expect((await h.store.get(chainKey))?.lastErrorCode).toBe('maybe_forked');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const error = await rejection(next.refresh({ teamId: 'T1' }, { force: true }));
    expect((error as ReauthorizationRequiredError).code).toBe('lost_rotation');
    expect((await h.store.get(chainKey))?.lastErrorCode).toBe('lost_rotation');
    expect(events.map((e) => e.cause)).toEqual(['lost_rotation']);
  });

  test('a plain dead chain with no lost answer is not called a lost rotation', async () => {
    h = await harness({ slack: { refreshGraceMs: 0 } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    h.slack.revokeChain((await h.store.get(chainKey))?.refreshToken as string);
    const error = await rejection(h.rotator.getToken({ teamId: 'T1' }));
    expect((error as ReauthorizationRequiredError).code).toBe('invalid_refresh_token');
    expect((await h.store.get(chainKey))?.lastErrorCode).toBe('invalid_refresh_token');
  });
});

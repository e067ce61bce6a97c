import { afterEach, describe, expect, test } from 'vitest';
import { ConfigurationError, ReauthorizationRequiredError, RetryLaterError } from '../src/errors.js';
import type { RotatorEvents } from '../src/events.js';
import { createLocalLock } from '../src/lock/local.js';
import { type Harness, harness, refreshCalls, rejection } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('invalid_refresh_token', () => {
  test('marks the chain, emits once, throws, and never calls Slack again until re-installed', async () => {
    h = await harness({ slack: { refreshGraceMs: 0 } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const before = await h.store.get(chainKey);
    h.slack.revokeChain(before?.refreshToken as string);
    const events: RotatorEvents['reauthorization_required'][] = [];
    h.rotator.on('reauthorization_required', (e) => events.push(e));

    const error = await rejection(h.rotator.getToken({ teamId: 'T1' }));
    expect(error).toBeInstanceOf(ReauthorizationRequiredError);
    expect((error as ReauthorizationRequiredError).code).toBe('invalid_refresh_token');
    expect((error as ReauthorizationRequiredError).slackError).toBe('invalid_refresh_token');
    const marked = await h.store.get(chainKey);
    expect(marked?.status).toBe('reauthorization_required');
    expect(marked?.refreshToken === before?.refreshToken).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0]?.chainKey).toBe(chainKey);

    const callsAfterMark = refreshCalls(h.slack);
    const again = await rejection(h.rotator.getToken({ teamId: 'T1' }));
    expect((again as ReauthorizationRequiredError).code).toBe('reauthorization_required');
    await rejection(h.rotator.refresh({ teamId: 'T1' }, { force: true }));
    await rejection(h.another().getToken({ teamId: 'T1' }));
    expect(refreshCalls(h.slack)).toBe(callsAfterMark);
    expect(events).toHaveLength(1);

    await h.installWith({ teamId: 'T1' }, 0);
    expect(typeof (await h.rotator.getToken({ teamId: 'T1' }))).toBe('string');
    expect((await h.store.get(chainKey))?.status).toBe('active');
  });

  test('when a peer rotated meanwhile, the peer pair is adopted instead of marking the chain', async () => {
    let peerRotation: (() => Promise<void>) | undefined;
    h = await harness({
      slack: { refreshGraceMs: 0 },
      rotator: {
        // A peer that ignores the lock spends the token just before our request goes out.
        fetch: async (url, init) => {
          const peer = peerRotation;
          peerRotation = undefined;
          await peer?.();
          return fetch(url, init);
        },
      },
    });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const peer = h.another({ fetch, lock: createLocalLock() });
    peerRotation = async () => {
      await peer.refresh({ teamId: 'T1' }, { force: true });
    };

    const token = await h.rotator.getToken({ teamId: 'T1' });
    const stored = await h.store.get(chainKey);
    expect(stored?.status).toBe('active');
    expect(token === stored?.accessToken).toBe(true);
    expect(h.slack.peekRefreshToken(stored?.refreshToken as string)).toBe('active');
    expect(h.slack.calls.filter((c) => c.outcome === 'invalid_refresh_token')).toHaveLength(1);
  });

  test('a kept sibling refresh token is tried before the chain is declared dead', async () => {
    h = await harness({ slack: { refreshGraceMs: 100, siblingSurvivor: 'first' } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const record = await h.store.get(chainKey);
    const spend = async () => {
      const response = await fetch(`${h.slack.url}oauth.v2.access`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: record?.refreshToken as string,
          client_id: h.slack.clientId,
          client_secret: h.slack.clientSecret,
        }),
      });
      return (await response.json()) as { access_token: string; refresh_token: string; expires_in: number };
    };
    // A double exchange happened: the first pair survives, the second (which we stored) dies.
    const first = await spend();
    const second = await spend();
    await h.store.compareAndSet(chainKey, record?.version as number, {
      accessToken: second.access_token,
      refreshToken: second.refresh_token,
      fallbackRefreshToken: first.refresh_token,
      expiresAt: Date.now(),
      updatedAt: Date.now(),
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(h.slack.peekRefreshToken(second.refresh_token)).toBe('dead');

    const token = await h.rotator.getToken({ teamId: 'T1' });
    const stored = await h.store.get(chainKey);
    expect(stored?.status).toBe('active');
    expect(stored?.fallbackRefreshToken).toBeNull();
    expect(token === stored?.accessToken).toBe(true);
    expect(h.slack.peekRefreshToken(stored?.refreshToken as string)).toBe('active');
  });
});

describe('configuration errors', () => {
  /** Sends other client credentials than the rotator's own, as a misconfigured app would. */
  const credentials = (clientId: string, clientSecret: string): typeof fetch => {
    return (url, init) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`);
      return fetch(url, { ...init, headers });
    };
  };

  test.each([
    ['bad_client_secret', 'fake-client-id', 'wrong-secret'],
    ['invalid_client_id', 'unknown-client', 'fake-client-secret'],
  ])('%s throws ConfigurationError and marks nothing', async (slackError, clientId, clientSecret) => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const before = await h.store.get(chainKey);
    const wrong = h.another({ fetch: credentials(clientId, clientSecret) });
    const error = await rejection(wrong.getToken({ teamId: 'T1' }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe('invalid_client');
    expect((error as ConfigurationError).slackError).toBe(slackError);
    expect(refreshCalls(h.slack)).toBe(1);
    const after = await h.store.get(chainKey);
    expect(after?.version).toBe(before?.version);
    expect(after?.status).toBe('active');
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
  });
});

describe('ambiguous failures', () => {
  test.each(['http_500', 'internal_error', 'html', 'connection_reset'] as const)(
    '%s is retried promptly with the same refresh token',
    async (fault) => {
      h = await harness();
      const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
      const before = await h.store.get(chainKey);
      h.slack.injectFault(fault);
      const token = await h.rotator.getToken({ teamId: 'T1' });
      const refreshes = h.slack.calls.filter((c) => c.grantType === 'refresh_token');
      expect(refreshes).toHaveLength(2);
      expect(refreshes[0]?.refreshToken === before?.refreshToken).toBe(true);
      expect(refreshes[1]?.refreshToken === before?.refreshToken).toBe(true);
      const after = await h.store.get(chainKey);
      expect(token === after?.accessToken).toBe(true);
      expect(after?.version).toBe((before?.version as number) + 1);
    },
  );

  test('a rotation whose answer was lost is retried within the grace period (last sibling survives)', async () => {
    h = await harness({ slack: { siblingSurvivor: 'last' } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    h.slack.injectFault('rotate_then_drop');
    await h.rotator.getToken({ teamId: 'T1' });
    const after = await h.store.get(chainKey);
    expect(h.slack.chains()[0]?.forks).toBe(1);
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
  });

  test('when retries run out: a typed retryable error, nothing changed, and a still-valid token is served', async () => {
    h = await harness();
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 5_000)) as [string];
    const before = await h.store.get(chainKey);
    h.slack.injectFault('http_500', { count: 4 });
    const failures: RotatorEvents['refresh-failed'][] = [];
    h.rotator.on('refresh-failed', (e) => failures.push(e));

    const error = await rejection(h.rotator.refresh({ teamId: 'T1' }, { force: true }));
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).code).toBe('slack_unavailable');
    expect((error as RetryLaterError).status).toBe(500);
    expect(refreshCalls(h.slack)).toBe(4);
    expect(failures).toHaveLength(1);
    const after = await h.store.get(chainKey);
    expect(after?.version).toBe(before?.version);

    h.slack.injectFault('http_500', { count: 4 });
    const token = await h.rotator.getToken({ teamId: 'T1' }, { minValidityMs: 10_000 });
    expect(token === before?.accessToken).toBe(true);
  });

  test('a timed-out answer that arrives late is still stored', async () => {
    h = await harness({
      slack: { latencyMs: 150 },
      rotator: { requestTimeoutMs: 50, lockTtlMs: 1_000, ambiguousRetryDelaysMs: [] },
    });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 5_000)) as [string];
    const before = await h.store.get(chainKey);
    const error = await rejection(h.rotator.refresh({ teamId: 'T1' }, { force: true }));
    expect((error as RetryLaterError).code).toBe('slack_unavailable');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await h.store.get(chainKey);
    expect(after?.version).toBe((before?.version as number) + 1);
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
  });
});

describe('rate limits', () => {
  test('a 429 waits Retry-After without the lock and then refreshes once', async () => {
    h = await harness();
    await h.installWith({ teamId: 'T1' }, 0);
    h.slack.injectFault('rate_limited', { retryAfterSeconds: 1 });
    await h.rotator.getToken({ teamId: 'T1' });
    const refreshes = h.slack.calls.filter((c) => c.grantType === 'refresh_token');
    expect(refreshes.map((c) => c.outcome)).toEqual(['fault:rate_limited', 'ok']);
    expect((refreshes[1]?.at as number) - (refreshes[0]?.at as number)).toBeGreaterThanOrEqual(900);
  });

  test('a 429 right after an unclear answer keeps the lock and the same token, inside the grace period', async () => {
    h = await harness({ slack: { siblingSurvivor: 'last' } });
    const [chainKey] = (await h.installWith({ teamId: 'T1' }, 0)) as [string];
    const before = await h.store.get(chainKey);
    h.slack.injectFault('rotate_then_drop');
    h.slack.injectFault('rate_limited', { retryAfterSeconds: 5 });
    await h.rotator.getToken({ teamId: 'T1' });
    const refreshes = h.slack.calls.filter((c) => c.grantType === 'refresh_token');
    expect(refreshes.map((c) => c.outcome)).toEqual(['fault:rotate_then_drop', 'fault:rate_limited', 'ok']);
    expect(refreshes.every((c) => c.refreshToken === before?.refreshToken)).toBe(true);
    expect((refreshes[2]?.at as number) - (refreshes[0]?.at as number)).toBeLessThan(2_000);
    const after = await h.store.get(chainKey);
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
  });

  test('rate-limited past the retries: RetryLaterError with retryAt', async () => {
    h = await harness({ rotator: { rateLimitRetries: 1, rateLimitMaxWaitMs: 10 } });
    await h.installWith({ teamId: 'T1' }, 0);
    h.slack.injectFault('rate_limited', { count: 2 });
    const error = await rejection(h.rotator.refresh({ teamId: 'T1' }, { force: true }));
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).code).toBe('rate_limited');
    expect(typeof (error as RetryLaterError).retryAt).toBe('number');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../src/testing/fake-slack.js';
import { createFaultPlanner, FAULT_KINDS, mulberry32 } from '../src/testing/fake-slack-faults.js';
import { authTest, field, refresh, testClock } from './fake-slack-helpers.js';

const open: FakeSlack[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((slack) => slack.close()));
});

async function start(options: FakeSlackOptions = {}) {
  const clock = testClock();
  const slack = await createFakeSlack({ now: clock.now, ...options });
  open.push(slack);
  return { slack, clock };
}

describe('faults that do nothing', () => {
  it('http_500: HTTP 500 with an HTML body, nothing rotated', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('http_500');
    const reply = await refresh(slack, install.refresh_token);
    expect(reply.status).toBe(500);
    expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
    expect(reply.text).toMatch(/<html>/);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
    expect(slack.calls[0]).toMatchObject({ outcome: 'fault:http_500', status: 500, duplicate: false });
  });

  it('rate_limited: HTTP 429 with Retry-After and ratelimited, nothing rotated', async () => {
    const { slack } = await start({ faults: { retryAfterSeconds: 7 } });
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('rate_limited');
    slack.injectFault('rate_limited', { retryAfterSeconds: 30 });
    const first = await refresh(slack, install.refresh_token);
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(first.body).toEqual({ ok: false, error: 'ratelimited' });
    const second = await refresh(slack, install.refresh_token);
    expect(second.headers.get('retry-after')).toBe('30');
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
    expect(slack.chainOf(install.refresh_token)?.rotations).toBe(0);
  });

  it('internal_error: HTTP 200 ok:false internal_error, nothing rotated', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('internal_error');
    const reply = await refresh(slack, install.refresh_token);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ ok: false, error: 'internal_error' });
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
  });

  it('html: HTTP 200 with an HTML page, nothing rotated', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('html');
    const reply = await refresh(slack, install.refresh_token);
    expect(reply.status).toBe(200);
    expect(reply.body).toBeUndefined();
    expect(reply.text).toMatch(/<html>/);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
  });

  it('connection_reset: the request fails on the wire, nothing rotated', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('connection_reset');
    await expect(refresh(slack, install.refresh_token)).rejects.toThrow();
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('active');
    expect(slack.calls[0]).toMatchObject({ outcome: 'fault:connection_reset', status: 0 });
    // The next call goes through and is flagged as a duplicate presentation.
    expect((await refresh(slack, install.refresh_token)).body?.ok).toBe(true);
    expect(slack.calls[1]?.duplicate).toBe(true);
    expect(slack.chainOf(install.refresh_token)).toMatchObject({ refreshCalls: 2, rotations: 1, forks: 0 });
  });
});

describe('faults after the refresh is performed', () => {
  it('rotate_then_drop spends the token and loses the answer: grace, then dead', async () => {
    const { slack, clock } = await start({ refreshGraceMs: 2_000 });
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('rotate_then_drop');
    await expect(refresh(slack, install.refresh_token)).rejects.toThrow();
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('grace');
    expect(slack.chainOf(install.refresh_token)).toMatchObject({ rotations: 1, activeAccessTokens: 2 });
    expect(slack.calls[0]).toMatchObject({ outcome: 'fault:rotate_then_drop', status: 0 });
    clock.advance(2_000);
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('dead');
    expect((await refresh(slack, install.refresh_token)).body?.error).toBe('invalid_refresh_token');
    // The lost pair is the survivor: the chain is alive, though its holder never saw it.
    expect(slack.chainOf(install.refresh_token)?.currentRefreshTokenAlive).toBe(true);
  });

  it('rotate_then_drop, retried within grace, forks a sibling pair', async () => {
    const { slack, clock } = await start({ refreshGraceMs: 2_000 });
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('rotate_then_drop');
    await expect(refresh(slack, install.refresh_token)).rejects.toThrow();
    const retry = await refresh(slack, install.refresh_token);
    expect(retry.body?.ok).toBe(true);
    expect(slack.chainOf(install.refresh_token)).toMatchObject({ rotations: 1, forks: 1, duplicates: 1 });
    // With the default 'first' survivor, the retried (second) pair dies after grace.
    expect(slack.peekRefreshToken(field(retry, 'refresh_token'))).toBe('active');
    clock.advance(2_000);
    expect(slack.peekRefreshToken(field(retry, 'refresh_token'))).toBe('dead');
    expect(slack.chainOf(install.refresh_token)?.currentRefreshTokenAlive).toBe(true);
  });

  it('rotate_then_500 spends the token and answers HTTP 500', async () => {
    const { slack } = await start({ refreshGraceMs: 0 });
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('rotate_then_500');
    const reply = await refresh(slack, install.refresh_token);
    expect(reply.status).toBe(500);
    expect(reply.body).toBeUndefined();
    expect(slack.peekRefreshToken(install.refresh_token)).toBe('dead');
    expect(slack.chainOf(install.refresh_token)?.rotations).toBe(1);
    expect(slack.calls[0]?.outcome).toBe('fault:rotate_then_500');
  });
});

describe('injection and random faults', () => {
  it('injected faults are used first-in first-out, count times, for their method only', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.injectFault('internal_error', { count: 2 });
    slack.injectFault('http_500', { method: 'auth.test' });
    slack.injectFault('html');
    expect(await authTest(slack, install.access_token)).toBe('http_500');
    expect(await authTest(slack, install.access_token)).toBe('ok');
    for (let i = 0; i < 4; i += 1) await refresh(slack, install.refresh_token);
    expect(slack.calls.map((call) => call.outcome)).toEqual([
      'fault:http_500',
      'ok',
      'fault:internal_error',
      'fault:internal_error',
      'fault:html',
      'ok',
    ]);
  });

  it('random faults follow their rates from the seed, on refresh calls only', async () => {
    const run = async (seed: number) => {
      const { slack } = await start({ faults: { internal_error: 0.5 }, seed });
      const install = slack.install({ teamId: 'T1' });
      for (let i = 0; i < 40; i += 1) {
        await refresh(slack, install.refresh_token);
        await authTest(slack, install.access_token);
      }
      return slack.calls.map((call) => call.outcome);
    };
    const a = await run(42);
    const b = await run(42);
    expect(a).toEqual(b);
    const refreshOutcomes = a.filter((_, i) => i % 2 === 0);
    const faulted = refreshOutcomes.filter((outcome) => outcome === 'fault:internal_error').length;
    expect(faulted).toBeGreaterThan(5);
    expect(faulted).toBeLessThan(35);
    expect(a.filter((_, i) => i % 2 === 1).every((outcome) => !outcome.startsWith('fault:'))).toBe(true);
  });

  it('setFaults replaces the rates: rate 1 always fails, {} never does', async () => {
    const { slack } = await start();
    const install = slack.install({ teamId: 'T1' });
    slack.setFaults({ http_500: 1 });
    expect((await refresh(slack, install.refresh_token)).status).toBe(500);
    expect((await refresh(slack, install.refresh_token)).status).toBe(500);
    slack.setFaults({});
    expect((await refresh(slack, install.refresh_token)).body?.ok).toBe(true);
    expect(() => slack.setFaults({ html: 1.5 })).toThrow(TypeError);
  });

  it('delays answers by the latency', async () => {
    const { slack } = await start({ latencyMs: 150 });
    const install = slack.install({ teamId: 'T1' });
    const started = performance.now();
    await authTest(slack, install.access_token);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    slack.setLatency(0);
    expect(() => slack.setLatency(-1)).toThrow(TypeError);
  });

  it('the planner draws latency in range and faults deterministically', () => {
    const random = mulberry32(7);
    const again = mulberry32(7);
    const draws = Array.from({ length: 5 }, () => random());
    expect(draws).toEqual(Array.from({ length: 5 }, () => again()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);

    const planner = createFaultPlanner({ latency: { min: 10, max: 20 }, rates: { html: 1 } });
    for (let i = 0; i < 20; i += 1) {
      const ms = planner.nextLatencyMs();
      expect(ms >= 10 && ms <= 20).toBe(true);
    }
    expect(planner.next('auth.test', false)).toBeUndefined();
    expect(planner.next('oauth.v2.access', true)?.kind).toBe('html');
    expect(FAULT_KINDS).toHaveLength(7);
  });
});

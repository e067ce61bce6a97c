/**
 * End to end, on SQLite and PostgreSQL: SIGTERM while refreshes are in flight at a slow Slack. The
 * requests the server had received finish, the process exits cleanly, the store holds a valid chain for every
 * installation, no pair Slack issued is lost, and the next server serves tokens that work.
 */
import { afterEach, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../rotator/test/helpers/postgres.js';
import { type BrokerFixture, call, createBrokerFixture } from './helpers/broker-fixture.js';

let f: BrokerFixture | undefined;
let db: TestDatabase | undefined;
afterEach(async () => {
  const leaks = f?.outputLeaks() ?? [];
  await f?.close();
  await db?.drop();
  f = undefined;
  db = undefined;
  expect(leaks).toEqual([]);
});

const TEAMS = ['T1', 'T2', 'T3', 'T4'];

const refreshCalls = (fixture: BrokerFixture) =>
  fixture.slack.calls.filter((c) => c.method === 'oauth.v2.access' && c.grantType === 'refresh_token');

test.each(['sqlite', 'postgres'])(
  '%s: SIGTERM during refreshes: requests finish, nothing is lost, the next start serves working tokens',
  async (kind) => {
    let storeUrl: string | undefined;
    if (kind === 'postgres') {
      db = await createTestDatabase('broker_sigterm');
      storeUrl = `postgres://postgres@127.0.0.1:5432/${db.name}`;
    }
    f = await createBrokerFixture({
      slack: { latencyMs: 800 },
      ...(storeUrl === undefined ? {} : { storeUrl }),
    });
    const fixture = f;
    const admin = await f.createKey('*');
    const rotator = f.backends.apps[0]?.rotator;
    if (rotator === undefined) throw new Error('no app');
    // Saved as if Slack had answered almost 12 h ago: 60 s left, so every read refreshes first.
    for (const teamId of TEAMS) {
      await rotator.saveInstallation(f.slack.install({ teamId }), {
        issuedAt: Date.now() - (43_200 - 60) * 1000,
      });
    }
    const server = await f.start();
    const inFlight = TEAMS.map((teamId) =>
      call(server.url, 'GET', `/v1/installations/${teamId}/token`, { key: admin }).catch(
        (error: unknown) => ({
          status: 0,
          body: undefined,
          text: String(error),
        }),
      ),
    );
    // A refresh is in flight once its intent is written (before the request to Slack goes out).
    const inProgress = async () => {
      for (const teamId of TEAMS) {
        const record = await fixture.backends.store.get(`${fixture.slack.clientId}:${teamId}:bot`);
        if (record?.refreshIntent != null) return true;
      }
      return false;
    };
    // Every request has reached the server (a request still in the kernel's queue at the stop is
    // refused with the connection, which is not what this test is about)…
    const received = () => server.logs().filter((l) => l.msg === 'incoming request').length;
    const deadline = Date.now() + 10_000;
    while (received() < TEAMS.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(received()).toBe(TEAMS.length);
    // …and at least one refresh is at Slack.
    while (!(await inProgress()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(await inProgress()).toBe(true);
    const exit = await server.stop('SIGTERM');
    const answers = await Promise.all(inFlight);

    expect(exit).toBe(0);
    // Every request the server had received finished, with a token that works.
    expect(answers.map((a) => a.status)).toEqual(TEAMS.map(() => 200));
    for (const answer of answers) expect(f.slack.peekAccessToken(answer.body.token)).toBe('active');
    expect(refreshCalls(f).length).toBeGreaterThan(0);
    expect(server.output()).toMatch(/broker stopped/);
    // The requests in flight at the signal were answered after it, not cut off.
    const logs = server.logs();
    const signalled = logs.findIndex((l) => String(l.msg).includes('stopping'));
    expect(signalled).toBeGreaterThan(-1);
    const answeredAfter = logs
      .slice(signalled)
      .filter((l) => l.msg === 'request completed' && (l.res as { statusCode?: number })?.statusCode === 200);
    expect(answeredAfter.length).toBeGreaterThan(0);

    for (const teamId of TEAMS) {
      const record = await f.backends.store.get(`${f.slack.clientId}:${teamId}:bot`);
      if (record === undefined) throw new Error(`no record for ${teamId}`);
      expect(record.status).toBe('active');
      expect(record.refreshIntent).toBe(null);
      expect(f.slack.peekAccessToken(record.accessToken)).toBe('active');
      expect(f.slack.peekRefreshToken(record.refreshToken)).toBe('active');
    }
    for (const chain of f.slack.chains()) {
      expect(chain.forks).toBe(0);
      expect(chain.duplicates).toBe(0);
      expect(chain.currentRefreshTokenAlive).toBe(true);
    }

    const next = await f.start();
    for (const teamId of TEAMS) {
      const answer = await call(next.url, 'GET', `/v1/installations/${teamId}/token?min_validity=600`, {
        key: admin,
      });
      expect(answer.status).toBe(200);
      const test = await fetch(`${f.slack.url}auth.test`, {
        method: 'POST',
        headers: { authorization: `Bearer ${answer.body.token}` },
      });
      expect(((await test.json()) as { ok: boolean }).ok).toBe(true);
    }
    expect(await next.stop('SIGTERM')).toBe(0);
  },
);

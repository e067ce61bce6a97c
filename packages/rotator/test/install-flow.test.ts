import { afterEach, describe, expect, test } from 'vitest';
import { type Harness, harness } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const secret = 'a-state-secret-of-at-least-32-characters!';

describe('completeInstall (OAuth without Bolt)', () => {
  test('state check, code grant, bot id lookup, then the installation is saved', async () => {
    h = await harness({ rotator: { stateSecret: secret } });
    const { url, state } = h.rotator.installUrl({
      scopes: ['chat:write'],
      redirectUri: 'https://app/redirect',
    });
    const parsed = new URL(url);
    expect(parsed.searchParams.get('client_id')).toBe(h.slack.clientId);
    expect(parsed.searchParams.get('state')).toBe(state);
    const code = h.slack.createAuthorizationCode({ teamId: 'T1' });
    const saved = await h.rotator.completeInstall({ code, state, redirectUri: 'https://app/redirect' });
    expect(saved.installationId).toBe('T1');
    const info = await h.rotator.getTokenInfo({ teamId: 'T1' });
    expect(info.botId).toMatch(/^B/);
    expect(h.slack.peekAccessToken(info.token)).toBe('active');
  });

  test.each([
    ['a forged state', (s: string) => `${s.slice(0, -2)}xx`],
    ['a malformed state', () => 'nonsense'],
    ['a state from another secret', () => 'lm0.abc.def'],
  ])('%s is refused before Slack is called', async (_name, tamper) => {
    h = await harness({ rotator: { stateSecret: secret } });
    const { state } = h.rotator.installUrl({ scopes: ['chat:write'] });
    const code = h.slack.createAuthorizationCode({ teamId: 'T1' });
    await expect(h.rotator.completeInstall({ code, state: tamper(state) })).rejects.toMatchObject({
      code: 'invalid_state',
    });
    expect(h.slack.calls).toHaveLength(0);
  });

  test('an expired state is refused', async () => {
    let now = Date.now();
    h = await harness({ rotator: { stateSecret: secret, now: () => now } });
    const { state } = h.rotator.installUrl({ scopes: ['chat:write'] });
    now += 11 * 60_000;
    const code = h.slack.createAuthorizationCode({ teamId: 'T1' });
    await expect(h.rotator.completeInstall({ code, state })).rejects.toMatchObject({ code: 'invalid_state' });
  });

  test('a used code is a typed install failure', async () => {
    h = await harness({ rotator: { stateSecret: secret } });
    const code = h.slack.createAuthorizationCode({ teamId: 'T1' });
    await h.rotator.completeInstall({ code, state: h.rotator.installUrl({ scopes: [] }).state });
    await expect(
      h.rotator.completeInstall({ code, state: h.rotator.installUrl({ scopes: [] }).state }),
    ).rejects.toMatchObject({ name: 'ReauthorizationRequiredError', code: 'install_failed' });
  });

  test('without stateSecret the flow fails fast with a TypeError', async () => {
    h = await harness();
    expect(() => h.rotator.installUrl({ scopes: [] })).toThrow(/stateSecret/);
  });
});

describe('exchangeLegacyToken (oauth.v2.exchange)', () => {
  test('a legacy bot token becomes a rotating chain, once', async () => {
    h = await harness();
    const legacy = h.slack.createLegacyToken({ teamId: 'T1', kind: 'bot' });
    const saved = await h.rotator.exchangeLegacyToken(legacy);
    expect(saved.chains[0]?.chainKey).toBe(`${h.slack.clientId}:T1:bot`);
    const token = await h.rotator.getToken({ teamId: 'T1' });
    expect(token.startsWith('xoxe.xoxb-')).toBe(true);
    await expect(h.rotator.exchangeLegacyToken(legacy)).rejects.toMatchObject({
      name: 'ReauthorizationRequiredError',
      code: 'install_failed',
      slackError: 'token_already_exchanged',
    });
  });

  test('a user token is saved under the named user', async () => {
    h = await harness();
    const legacy = h.slack.createLegacyToken({ teamId: 'T1', userId: 'U9', kind: 'user' });
    const saved = await h.rotator.exchangeLegacyToken(legacy, { userId: 'U9' });
    expect(saved.chains[0]?.chainKey).toBe(`${h.slack.clientId}:T1:user:U9`);
  });

  test('rotation not enabled is a configuration error', async () => {
    h = await harness({ slack: { rotationEnabled: false } });
    const legacy = h.slack.createLegacyToken({ teamId: 'T1', kind: 'bot' });
    await expect(h.rotator.exchangeLegacyToken(legacy)).rejects.toMatchObject({
      name: 'ConfigurationError',
      slackError: 'token_rotation_not_enabled',
    });
  });

  test('a token that is not a legacy token is a TypeError, and Slack is not called', async () => {
    h = await harness();
    await expect(h.rotator.exchangeLegacyToken('xoxe.xoxb-1-rotating')).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
    });
    expect(h.slack.calls).toHaveLength(0);
  });
});

describe('exchangeLegacyToken under faults', () => {
  test('a 429 is a rate_limited RetryLaterError with retryAt, and nothing was exchanged', async () => {
    h = await harness();
    const legacy = h.slack.createLegacyToken({ teamId: 'T1', kind: 'bot' });
    h.slack.injectFault('rate_limited', { method: 'oauth.v2.exchange', retryAfterSeconds: 3 });
    await expect(h.rotator.exchangeLegacyToken(legacy)).rejects.toMatchObject({
      name: 'RetryLaterError',
      code: 'rate_limited',
      retryAt: expect.any(Number),
    });
    const saved = await h.rotator.exchangeLegacyToken(legacy, { botId: 'B1' });
    expect((await h.rotator.getTokenInfo({ teamId: 'T1' })).botId).toBe('B1');
    expect(saved.installationId).toBe('T1');
  });

  test('an answer slower than the request timeout is still saved', async () => {
    h = await harness({ slack: { latencyMs: 300 }, rotator: { requestTimeoutMs: 100, lockTtlMs: 1_000 } });
    const legacy = h.slack.createLegacyToken({ teamId: 'T1', kind: 'bot' });
    const saved = await h.rotator.exchangeLegacyToken(legacy);
    expect(saved.installationId).toBe('T1');
    expect(h.slack.calls.filter((c) => c.method === 'oauth.v2.exchange')).toHaveLength(1);
  });
});

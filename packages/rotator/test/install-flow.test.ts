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

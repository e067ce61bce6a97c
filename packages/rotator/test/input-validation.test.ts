import { describe, expect, test } from 'vitest';
import { createRotator } from '../src/manager.js';
import { createMemoryStore } from '../src/store/memory.js';

function typeError(run: () => unknown): TypeError & { code: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message.startsWith('[slack-rotator] ')).toBe(true);
    expect(['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']).toContain((error as { code: string }).code);
    return error as TypeError & { code: string };
  }
  throw new Error('expected a TypeError');
}

async function rejectsTypeError(run: () => Promise<unknown>): Promise<TypeError & { code: string }> {
  try {
    await run();
  } catch (error) {
    return typeError(() => {
      throw error;
    });
  }
  throw new Error('expected a TypeError');
}

const base = () => ({ clientId: 'C1', clientSecret: 'secret', store: createMemoryStore() });

describe('createRotator options', () => {
  test.each([
    ['missing clientId', { clientId: undefined }, /clientId/],
    ['empty clientSecret', { clientSecret: '' }, /clientSecret/],
    ['no store', { store: undefined }, /store/],
    ['a store missing methods', { store: { get() {} } }, /store/],
    ['a negative window', { refreshWindowMs: -1 }, /refreshWindowMs/],
    ['a window as long as the token', { refreshWindowMs: 43_200_000 }, /refreshWindowMs/],
    ['a bad URL', { slackApiUrl: 'not a url' }, /slackApiUrl/],
    ['an unknown client auth', { clientAuth: 'digest' }, /clientAuth/],
    ['a lease shorter than a request', { requestTimeoutMs: 5_000, lockTtlMs: 1_000 }, /lockTtlMs/],
    ['a short state secret', { stateSecret: 'short' }, /stateSecret/],
  ])('%s', (_name, overrides, message) => {
    const error = typeError(() => createRotator({ ...base(), ...overrides } as never));
    expect(error.message).toMatch(message);
  });

  test('no options at all', () => {
    expect(typeError(() => createRotator(undefined as never)).code).toBe('ERR_INVALID_ARG_TYPE');
  });
});

describe('keys', () => {
  const rotator = createRotator(base());
  test.each([
    ['neither team nor enterprise', {}],
    ['an org-wide install without enterprise', { isEnterpriseInstall: true, teamId: 'T1' }],
    ['a non-string team', { teamId: 42 }],
    ['a team id with a colon', { teamId: 'T1:bot' }],
    ['a user chain without user id', { teamId: 'T1', chain: { userId: '' } }],
    ['an unknown chain', { teamId: 'T1', chain: 'app' }],
  ])('%s', async (_name, key) => {
    await rejectsTypeError(() => rotator.getToken(key as never));
  });

  test('a minValidityMs that would refresh on every call', async () => {
    const error = await rejectsTypeError(() =>
      rotator.getToken({ teamId: 'T1' }, { minValidityMs: 40_000_000 }),
    );
    expect(error.message).toMatch(/minValidityMs/);
  });
});

describe('install responses', () => {
  const install = {
    ok: true,
    app_id: 'A1',
    authed_user: { id: 'U1' },
    scope: 'chat:write',
    token_type: 'bot',
    access_token: 'xoxe.xoxb-1-abc',
    bot_user_id: 'U0BOT',
    refresh_token: 'xoxe-1-def',
    expires_in: 43_200,
    team: { id: 'T1', name: 'Team' },
    enterprise: null,
    is_enterprise_install: false,
  };

  test.each([
    ['not an object', 'garbage', /install response/],
    ['ok: false', { ok: false, error: 'invalid_code' }, /ok: true/],
    ['no refresh token (rotation off)', { ...install, refresh_token: undefined }, /rotation is not enabled/],
    ['a negative expires_in', { ...install, expires_in: -5 }, /expires_in/],
    ['no team and no enterprise', { ...install, team: null }, /team/],
    ['org-wide without enterprise', { ...install, is_enterprise_install: true, team: null }, /enterprise/],
    ['a numeric access token', { ...install, access_token: 12 }, /access_token/],
    ['no tokens at all', { ok: true, team: { id: 'T1' } }, /no access token/],
  ])('%s is rejected and nothing is stored', async (_name, response, message) => {
    const store = createMemoryStore();
    const rotator = createRotator({ ...base(), store });
    const error = await rejectsTypeError(() => rotator.saveInstallation(response));
    expect(error.message).toMatch(message);
    expect((await store.list()).records).toHaveLength(0);
  });

  test('error messages name the field, never the token', async () => {
    const rotator = createRotator(base());
    const error = await rejectsTypeError(() =>
      rotator.saveInstallation({ ...install, authed_user: { id: 'U1', access_token: 'xoxe.xoxp-1-secret' } }),
    );
    expect(error.message).toMatch(/authed_user\.refresh_token/);
    expect(error.message.includes('xoxe')).toBe(false);
  });
});

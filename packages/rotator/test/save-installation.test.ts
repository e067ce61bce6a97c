import { afterEach, describe, expect, test } from 'vitest';
import { ReauthorizationRequiredError } from '../src/errors.js';
import { type Harness, harness } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('saveInstallation and keys', () => {
  test('a workspace install stores the bot chain and the installer user chain, keyed by team', async () => {
    h = await harness();
    const response = h.slack.install({ teamId: 'T1', userId: 'U1', userScopes: ['search:read'] });
    const saved = await h.rotator.saveInstallation(response);
    expect(saved.installationId).toBe('T1');
    expect(saved.chains.map((c) => c.chainKey).sort()).toEqual(
      [`${h.slack.clientId}:T1:bot`, `${h.slack.clientId}:T1:user:U1`].sort(),
    );
    const bot = await h.rotator.getTokenInfo({ teamId: 'T1' });
    const user = await h.rotator.getTokenInfo({ teamId: 'T1', chain: { userId: 'U1' } });
    expect(bot.token === response.access_token).toBe(true);
    expect(user.token === response.authed_user.access_token).toBe(true);
    expect(bot.botUserId).toBe(response.bot_user_id);
    expect(bot.appId).toBe(h.slack.appId);
    expect(bot.scopes.length).toBeGreaterThan(0);
    expect(user.userId).toBe('U1');
  });

  test('an org-wide install is keyed by enterprise and found from a team inside the grid', async () => {
    h = await harness();
    await h.rotator.saveInstallation(h.slack.install({ enterpriseId: 'E1', isEnterpriseInstall: true }));
    const byEnterprise = await h.rotator.getTokenInfo({ enterpriseId: 'E1', isEnterpriseInstall: true });
    expect(byEnterprise.chainKey).toBe(`${h.slack.clientId}:E1:bot`);
    expect(byEnterprise.teamId).toBeNull();
    expect(byEnterprise.isEnterpriseInstall).toBe(true);
    // Unknown whether org-wide: the team is looked up first, then the enterprise.
    const fromTeam = await h.rotator.getTokenInfo({ enterpriseId: 'E1', teamId: 'T9' });
    expect(fromTeam.chainKey).toBe(byEnterprise.chainKey);
    await expect(
      h.rotator.getToken({ enterpriseId: 'E1', teamId: 'T9', isEnterpriseInstall: false }),
    ).rejects.toThrow(ReauthorizationRequiredError);
  });

  test('a workspace inside a grid keys by team', async () => {
    h = await harness();
    const saved = await h.rotator.saveInstallation(h.slack.install({ teamId: 'T5', enterpriseId: 'E1' }));
    expect(saved.chains[0]?.chainKey).toBe(`${h.slack.clientId}:T5:bot`);
    const info = await h.rotator.getTokenInfo({ teamId: 'T5', enterpriseId: 'E1' });
    expect(info.enterpriseId).toBe('E1');
  });

  test('an oauth.v2.exchange answer for a user token needs and uses the named user', async () => {
    h = await harness();
    const legacy = h.slack.createLegacyToken({ teamId: 'T1', userId: 'U7', kind: 'user' });
    const answer = await fetch(`${h.slack.url}oauth.v2.exchange`, {
      method: 'POST',
      body: new URLSearchParams({
        token: legacy,
        client_id: h.slack.clientId,
        client_secret: h.slack.clientSecret,
      }),
    }).then((r) => r.json());
    const saved = await h.rotator.saveInstallation(answer, { userId: 'U7' });
    expect(saved.chains[0]?.chainKey).toBe(`${h.slack.clientId}:T1:user:U7`);
    expect(typeof (await h.rotator.getToken({ teamId: 'T1', chain: { userId: 'U7' } }))).toBe('string');
  });

  test('a missing installation is a typed error naming the chain', async () => {
    h = await harness();
    await expect(h.rotator.getToken({ teamId: 'T404' })).rejects.toMatchObject({
      name: 'ReauthorizationRequiredError',
      code: 'installation_not_found',
      chainKey: `${h.slack.clientId}:T404:bot`,
    });
  });

  test('deleteInstallation removes every chain of the installation', async () => {
    h = await harness();
    await h.rotator.saveInstallation(
      h.slack.install({ teamId: 'T1', userId: 'U1', userScopes: ['search:read'] }),
    );
    await h.rotator.getToken({ teamId: 'T1' });
    expect(await h.rotator.deleteInstallation({ teamId: 'T1' })).toBe(2);
    await expect(h.rotator.getToken({ teamId: 'T1' })).rejects.toMatchObject({
      code: 'installation_not_found',
    });
  });
});

describe('markRevoked', () => {
  test('marks every chain of an installation revoked, keeps the records, and serves none of them', async () => {
    h = await harness();
    await h.rotator.saveInstallation(
      h.slack.install({ teamId: 'T1', userId: 'U1', userScopes: ['search:read'] }),
    );
    await h.rotator.getToken({ teamId: 'T1' });
    expect(await h.rotator.markRevoked({ teamId: 'T1' }, { reason: 'app_uninstalled' })).toBe(2);
    const bot = await h.store.get(`${h.slack.clientId}:T1:bot`);
    expect(bot?.status).toBe('revoked');
    expect(bot?.lastErrorCode).toBe('app_uninstalled');
    await expect(h.rotator.getToken({ teamId: 'T1' })).rejects.toMatchObject({ code: 'chain_revoked' });
    expect(await h.rotator.markRevoked({ teamId: 'T1' })).toBe(0);
    await h.rotator.saveInstallation(h.slack.install({ teamId: 'T1' }));
    expect(typeof (await h.rotator.getToken({ teamId: 'T1' }))).toBe('string');
  });

  test('marks only the chains named', async () => {
    h = await harness();
    await h.rotator.saveInstallation(
      h.slack.install({ teamId: 'T1', userId: 'U1', userScopes: ['search:read'] }),
    );
    expect(await h.rotator.markRevoked({ teamId: 'T1' }, { chains: [{ userId: 'U1' }] })).toBe(1);
    expect((await h.store.get(`${h.slack.clientId}:T1:user:U1`))?.status).toBe('revoked');
    expect((await h.store.get(`${h.slack.clientId}:T1:bot`))?.status).toBe('active');
  });
});

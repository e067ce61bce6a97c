/** The benchmarked workloads: one cached installation each, read by awaited calls. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import oauth from '@slack/oauth';
import { createMemoryStore, createRotator } from '../packages/rotator/src/index.js';
import type { Call } from './measure.js';

const { FileInstallationStore, InstallProvider, LogLevel, MemoryInstallationStore } = oauth;

/** The token expires far enough ahead that neither library refreshes (they refresh within 1 h / 2 h). */
export const EXPIRES_IN_SECONDS = 24 * 60 * 60;
export const TEAM_ID = 'T0BENCH01';

/** A workload: what it is called and how to make one awaited call. */
export interface Workload {
  name: string;
  call: Call;
  close(): Promise<void>;
}

/** Token bodies as long as Slack's (a rotating bot token is about 150 characters), flat strings. */
const tokenBody = () => randomBytes(104).toString('base64url');

/** An `oauth.v2.access` install answer with token rotation on, for team `teamId`. */
export function installAnswer(teamId: string) {
  return {
    ok: true,
    app_id: 'A0BENCH',
    authed_user: { id: 'U0BENCH' },
    scope: 'chat:write',
    token_type: 'bot',
    access_token: `xoxe.xoxb-1-${tokenBody()}`,
    bot_user_id: 'U0BOT',
    refresh_token: `xoxe-1-${tokenBody()}`,
    expires_in: EXPIRES_IN_SECONDS,
    team: { id: teamId, name: 'Bench' },
    enterprise: null,
    is_enterprise_install: false,
  };
}

/** The same installation as `@slack/oauth` stores it. */
export function oauthInstallation(teamId: string): oauth.Installation<'v2', false> {
  return {
    team: { id: teamId, name: 'Bench' },
    enterprise: undefined,
    user: { id: 'U0BENCH', token: undefined, scopes: undefined },
    bot: {
      scopes: ['chat:write'],
      token: `xoxe.xoxb-1-${tokenBody()}`,
      refreshToken: `xoxe-1-${tokenBody()}`,
      expiresAt: Math.floor(Date.now() / 1000) + EXPIRES_IN_SECONDS,
      userId: 'U0BOT',
      id: 'B0BENCH',
    },
    tokenType: 'bot',
    isEnterpriseInstall: false,
    appId: 'A0BENCH',
    authVersion: 'v2',
  };
}

const noop = async (): Promise<void> => {};

/** The floor: an awaited call of an empty async function. */
export async function noopWorkload(): Promise<Workload> {
  return { name: 'awaited no-op (floor)', call: () => noop(), close: async () => {} };
}

/** slack-rotator: `getToken({ teamId })`, memory store, token cached and fresh. */
export async function rotatorWorkload(): Promise<Workload> {
  const rotator = createRotator({
    clientId: 'bench',
    clientSecret: 'bench-secret',
    store: createMemoryStore(),
  });
  await rotator.saveInstallation(installAnswer(TEAM_ID));
  await rotator.getToken({ teamId: TEAM_ID });
  return {
    name: 'slack-rotator getToken (memory store)',
    call: () => rotator.getToken({ teamId: TEAM_ID }),
    close: () => rotator.close(),
  };
}

function provider(installationStore: oauth.InstallationStore): oauth.InstallProvider {
  return new InstallProvider({
    clientId: 'bench',
    clientSecret: 'bench-secret',
    stateSecret: 'bench-state-secret-bench-state-secret',
    installationStore,
    // Its stores log on every fetch at the default level; a production app would raise the level too.
    logLevel: LogLevel.ERROR,
  });
}

/** `@slack/oauth` 4: `InstallProvider.authorize()` with its `MemoryInstallationStore`. */
export async function oauthMemoryWorkload(): Promise<Workload> {
  const store = new MemoryInstallationStore();
  await store.storeInstallation(oauthInstallation(TEAM_ID));
  const installer = provider(store);
  return {
    name: '@slack/oauth authorize (MemoryInstallationStore)',
    call: () => installer.authorize({ teamId: TEAM_ID, enterpriseId: undefined, isEnterpriseInstall: false }),
    close: async () => {},
  };
}

/** `@slack/oauth` 4: `InstallProvider.authorize()` with its `FileInstallationStore` in a temp folder. */
export async function oauthFileWorkload(): Promise<Workload> {
  const baseDir = mkdtempSync(join(tmpdir(), 'slack-rotator-bench-'));
  const store = new FileInstallationStore({ baseDir });
  await store.storeInstallation(oauthInstallation(TEAM_ID));
  const installer = provider(store);
  return {
    name: '@slack/oauth authorize (FileInstallationStore)',
    call: () => installer.authorize({ teamId: TEAM_ID, enterpriseId: undefined, isEnterpriseInstall: false }),
    close: async () => rmSync(baseDir, { recursive: true, force: true }),
  };
}

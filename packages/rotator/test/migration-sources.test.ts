import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Installation, InstallationStore } from '@slack/oauth';
import oauth from '@slack/oauth';
import { afterEach, expect, test } from 'vitest';
import {
  fetchInstallations,
  readFileInstallationStore,
  readInstallationsFile,
} from '../src/migrate/sources.js';
import type { InstallationLike, MigrationInput } from '../src/migrate/types.js';

// @slack/oauth's own types fit, without a cast.
export const typesFit: [InstallationLike[], (store: InstallationStore) => AsyncIterable<MigrationInput>] = [
  [] as Installation[],
  (store) => fetchInstallations(store, [{ teamId: 'T1' }]),
];

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const temp = () => {
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-sources-'));
  return dir;
};

type StoredInstallation = Parameters<
  InstanceType<typeof oauth.FileInstallationStore>['storeInstallation']
>[0];

function installation(
  place: { teamId?: string; enterpriseId?: string; org?: boolean },
  bot: string,
  user: { id: string; token?: string },
): StoredInstallation {
  return {
    team: place.teamId === undefined ? undefined : { id: place.teamId },
    enterprise: place.enterpriseId === undefined ? undefined : { id: place.enterpriseId },
    isEnterpriseInstall: place.org === true,
    user: { id: user.id, token: user.token, scopes: user.token === undefined ? undefined : ['search:read'] },
    bot: { token: bot, scopes: ['chat:write'], id: 'B1', userId: 'UB1' },
  } as StoredInstallation;
}

async function collect(source: AsyncIterable<MigrationInput>): Promise<MigrationInput[]> {
  const out: MigrationInput[] = [];
  for await (const entry of source) out.push(entry);
  return out;
}

const summary = (entries: MigrationInput[]) =>
  entries.map((e) =>
    'unreadable' in e
      ? `unreadable ${e.reason}`
      : `${(e as InstallationLike).enterprise?.id ?? '-'}/${(e as InstallationLike).team?.id ?? '-'} bot=${(e as InstallationLike).bot?.token ?? '-'} user=${(e as InstallationLike).user?.id}:${(e as InstallationLike).user?.token ?? '-'}`,
  );

for (const clientId of ['A0CLIENT', undefined]) {
  test(`the FileInstallationStore layout ${clientId ? 'with' : 'without'} a clientId, as @slack/oauth 4 writes it`, async () => {
    const baseDir = join(temp(), 'installations');
    const store = new oauth.FileInstallationStore({ baseDir, ...(clientId ? { clientId } : {}) });
    // A workspace installed by U1, then by U2 with a newer bot token (history files kept).
    await store.storeInstallation(installation({ teamId: 'T1' }, 'xoxb-old', { id: 'U1', token: 'xoxp-u1' }));
    await store.storeInstallation(installation({ teamId: 'T1' }, 'xoxb-new', { id: 'U2', token: 'xoxp-u2' }));
    await store.storeInstallation(
      installation({ teamId: 'T2', enterpriseId: 'E1' }, 'xoxb-grid', { id: 'U3' }),
    );
    await store.storeInstallation(installation({ enterpriseId: 'E2', org: true }, 'xoxb-org', { id: 'U4' }));
    const entries = await collect(readFileInstallationStore({ baseDir, ...(clientId ? { clientId } : {}) }));
    // Plain workspaces land in "<root>T1" (no separator), grids in "<root>/E1-T2", org-wide in "<root>/E2".
    expect(summary(entries).sort()).toEqual(
      [
        '-/T1 bot=xoxb-new user=U2:xoxp-u2',
        '-/T1 bot=- user=U1:xoxp-u1',
        '-/T1 bot=- user=U2:xoxp-u2',
        'E1/T2 bot=xoxb-grid user=U3:-',
        'E1/T2 bot=- user=U3:-',
        'E2/- bot=xoxb-org user=U4:-',
        'E2/- bot=- user=U4:-',
      ].sort(),
    );
    // What it read is what the store itself returns.
    const fetched = await store.fetchInstallation({
      teamId: 'T1',
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    expect(fetched.bot?.token).toBe('xoxb-new');
  });
}

test('a corrupt file is yielded as unreadable, naming the file, not its content', async () => {
  const baseDir = join(temp(), 'installations');
  const store = new oauth.FileInstallationStore({ baseDir, clientId: 'A0', historicalDataEnabled: false });
  await store.storeInstallation(installation({ teamId: 'T1' }, 'xoxb-1', { id: 'U1' }));
  const [workspaceDir] = readdirSync(baseDir).filter((name) => name.startsWith('A0T'));
  writeFileSync(join(baseDir, workspaceDir as string, 'app-latest'), '{"bot": {"token": "xoxb-torn');
  const entries = await collect(readFileInstallationStore({ baseDir, clientId: 'A0' }));
  expect(summary(entries)).toEqual(['unreadable unreadable (SyntaxError)', '-/T1 bot=- user=U1:-']);
  expect(JSON.stringify(entries[0])).not.toContain('xoxb');
});

test('fetchInstallations asks an InstallationStore for each query; a missing one is unreadable, named by ids', async () => {
  const store = new oauth.FileInstallationStore({ baseDir: join(temp(), 'installations') });
  await store.storeInstallation(installation({ teamId: 'T1' }, 'xoxb-1', { id: 'U1', token: 'xoxp-1' }));
  const entries = await collect(
    fetchInstallations(store, [{ teamId: 'T1' }, { teamId: 'T1', userId: 'U1' }, { teamId: 'T404' }]),
  );
  expect(summary(entries)).toEqual([
    '-/T1 bot=xoxb-1 user=U1:xoxp-1',
    '-/T1 bot=xoxb-1 user=U1:xoxp-1',
    'unreadable fetchInstallation failed (Error)',
  ]);
  expect((entries[2] as { source: string }).source).toBe('enterprise -, team T404, user -');
});

test('readInstallationsFile: an array or { installations }; entries that are not objects are unreadable', async () => {
  const root = temp();
  const list = [{ team: { id: 'T1' }, bot: { token: 'xoxb-1' } }, 7];
  writeFileSync(join(root, 'a.json'), JSON.stringify(list));
  writeFileSync(join(root, 'b.json'), JSON.stringify({ installations: list }));
  writeFileSync(join(root, 'c.json'), '{"installations": 3}');
  writeFileSync(join(root, 'd.json'), 'not json');
  for (const name of ['a.json', 'b.json']) {
    expect(summary(await readInstallationsFile(join(root, name)))).toEqual([
      '-/T1 bot=xoxb-1 user=undefined:-',
      'unreadable not an object',
    ]);
  }
  for (const name of ['c.json', 'd.json', 'missing.json']) {
    const error = await readInstallationsFile(join(root, name)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^\[slack-rotator\] /);
  }
});

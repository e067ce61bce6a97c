import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Installation } from '@slack/oauth';
import oauth from '@slack/oauth';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliFixture, cliFixture, containsToken } from './cli-process.js';

let fx: CliFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

interface StatusRow {
  installation_id: string;
  chain: string;
  status: string;
}

async function chains(f: CliFixture): Promise<string[]> {
  const result = await f.run(['status', '--json']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as StatusRow[])
    .map((row) => `${row.installation_id} ${row.chain} ${row.status}`)
    .sort();
}

describe('slack-rotator import', () => {
  it('imports a FileInstallationStore directory written by @slack/oauth: rotating chains saved, legacy tokens exchanged, a second run changes nothing', async () => {
    const f = await cliFixture();
    fx = f;
    const baseDir = join(f.dir, 'bolt-installations');
    const files = new oauth.FileInstallationStore({ baseDir });
    for (const teamId of ['T0AAA', 'T0BBB']) {
      const answer = f.slack.install({ teamId });
      const installation: Installation<'v2', false> = {
        team: { id: teamId, name: teamId },
        enterprise: undefined,
        isEnterpriseInstall: false,
        appId: f.slack.appId,
        user: { id: 'U0INSTALLER', token: undefined, scopes: undefined },
        bot: {
          token: answer.access_token,
          refreshToken: answer.refresh_token,
          expiresAt: Math.floor(Date.now() / 1000) + answer.expires_in,
          scopes: ['chat:write'],
          id: 'B0BOT',
          userId: answer.bot_user_id,
        },
        tokenType: 'bot',
      };
      await files.storeInstallation(installation);
    }
    const legacy = f.slack.createLegacyToken({ teamId: 'T0OLD', kind: 'bot' });
    await files.storeInstallation({
      team: { id: 'T0OLD', name: 'old' },
      enterprise: undefined,
      isEnterpriseInstall: false,
      appId: f.slack.appId,
      user: { id: 'U0INSTALLER', token: undefined, scopes: undefined },
      bot: { token: legacy, scopes: ['chat:write'], id: 'B0OLD', userId: 'U0OLDBOT' },
      tokenType: 'bot',
    } as Installation<'v2', false>);

    const first = await f.run(['import', baseDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /3 chains: imported 2, exchanged 1, already migrated 0, duplicates 0, failed 0, not attempted 0/,
    );
    // Not a terminal: progress comes as lines on stderr, never on stdout.
    expect(first.stderr).toMatch(/chains: 3\/3 \(100 %\)/);
    expect(containsToken(first.stdout + first.stderr)).toBe(false);
    expect(await chains(f)).toEqual(['T0AAA bot active', 'T0BBB bot active', 'T0OLD bot active']);

    const second = await f.run(['import', baseDir]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/3 chains: imported 0, exchanged 0, already migrated 3/);
    expect(f.slack.calls.filter((call) => call.method === 'oauth.v2.exchange')).toHaveLength(1);
  });

  it('a source that is not there, or not JSON of installations, is a usage error', async () => {
    const f = await cliFixture();
    fx = f;
    const missing = await f.run(['import', 'nowhere.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^slack-rotator: cannot read .*nowhere\.json \(ENOENT\)/);
    writeFileSync(join(f.dir, 'broken.json'), 'installations: nope');
    const broken = await f.run(['import', 'broken.json']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^slack-rotator: .*broken\.json is not a readable JSON file/);
    expect(broken.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('slack-rotator exchange', () => {
  it('exchanges legacy tokens read from stdin; a failed line is reported by number and code, never the token', async () => {
    const f = await cliFixture();
    fx = f;
    const bot = f.slack.createLegacyToken({ teamId: 'T0AAA', kind: 'bot' });
    const user = f.slack.createLegacyToken({ teamId: 'T0AAA', kind: 'user', userId: 'U0USER' });
    const input = [
      '# legacy tokens',
      bot,
      '',
      `user:U0USER:${user}`,
      'xoxb-not-a-real-token',
      'garbage line',
    ].join('\n');
    const result = await f.run(['exchange', '-', '--rate', '600'], { stdin: input });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('line 2: exchanged T0AAA bot');
    expect(result.stdout).toContain('line 4: exchanged T0AAA user:U0USER');
    expect(result.stdout).toMatch(/^line 5: invalid_token$/m);
    expect(result.stdout).toMatch(/^line 6: invalid_line/m);
    expect(result.stdout).toMatch(/4 tokens: exchanged 2, failed 2/);
    expect(containsToken(result.stdout + result.stderr)).toBe(false);
    expect(result.stdout + result.stderr).not.toContain('not-a-real-token');
    expect(await chains(f)).toEqual(['T0AAA bot active', 'T0AAA user:U0USER active']);

    // Slack exchanges a token once: the same input again fails every line, by code.
    const again = await f.run(['exchange', '-', '--rate', '600'], { stdin: bot });
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^line 1: token_already_exchanged$/m);
  });

  it('takes no token from the command line', async () => {
    const f = await cliFixture();
    fx = f;
    const token = f.slack.createLegacyToken({ teamId: 'T0AAA', kind: 'bot' });
    const result = await f.run(['exchange', token]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^slack-rotator: tokens are never taken from the command line/);
    expect(result.stderr).not.toContain(token);
  });
});

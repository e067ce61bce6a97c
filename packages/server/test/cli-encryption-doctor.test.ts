import Database from 'better-sqlite3';
import { generateKey } from 'slack-rotator';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliFixture, cliFixture, containsToken } from './cli-process.js';

let fx: CliFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function keyIdsInStore(dbPath: string): Promise<string[]> {
  const database = new Database(dbPath);
  const store = createSqliteStore({ database });
  try {
    const { records } = await store.list({ limit: 1000 });
    return records.flatMap((record) =>
      [record.accessToken, record.refreshToken].map((value) => value.split(':')[2] ?? 'plain'),
    );
  } finally {
    await store.close();
    database.close();
  }
}

describe('slack-rotator encryption rotate', () => {
  it('re-encrypts every chain under the new primary key; a second run finds them current', async () => {
    const f = await cliFixture();
    fx = f;
    const k1 = generateKey();
    const k2 = generateKey();
    await f.seed(['T0AAA', 'T0BBB', 'T0CCC'], { keys: [['k1', k1]] });
    expect(new Set(await keyIdsInStore(f.dbPath))).toEqual(new Set(['k1']));

    const env = { SLACK_ROTATOR_ENCRYPTION_KEYS: `k2:${k2},k1:${k1}` };
    const result = await f.run(['encryption', 'rotate', '--batch', '2'], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /3 chains: re-encrypted 3, already current 0, failed 0, deleted meanwhile 0 \(primary key k2\)/,
    );
    expect(result.stderr).toMatch(/chains: 3\/3 \(100 %\)/);
    expect(new Set(await keyIdsInStore(f.dbPath))).toEqual(new Set(['k2']));
    expect(result.stdout + result.stderr).not.toContain(k1);
    expect(result.stdout + result.stderr).not.toContain(k2);

    const again = await f.run(['encryption', 'rotate'], { env });
    expect(again.stdout).toMatch(/re-encrypted 0, already current 3/);
    // The chains still serve: status reads them through the new key.
    const status = await f.run(['status', '--json'], { env: { SLACK_ROTATOR_ENCRYPTION_KEYS: `k2:${k2}` } });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toHaveLength(3);
  });

  it('without encryption keys it says which setting to set (exit 2)', async () => {
    const f = await cliFixture();
    fx = f;
    const result = await f.run(['encryption', 'rotate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^slack-rotator: .*SLACK_ROTATOR_ENCRYPTION_KEYS/);
  });
});

describe('slack-rotator doctor', () => {
  it('passes every check with the right credentials', async () => {
    const f = await cliFixture();
    fx = f;
    const result = await f.run(['doctor']);
    expect(result.stdout).not.toMatch(/^FAIL/m);
    expect(result.code, result.stdout).toBe(0);
    for (const check of [
      'configuration',
      'store reachable and schema current',
      'lock reachable',
      'clock',
      'slack reachable',
      'slack credentials (A0FAKEAPP)',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^ok   ${check.replace(/[()]/g, '\\$&')}`, 'm'));
    }
    // One harmless call per app: oauth.v2.access with a made-up code.
    const access = f.slack.calls.filter((call) => call.method === 'oauth.v2.access');
    expect(access.map((call) => call.outcome)).toEqual(['invalid_code']);
  });

  it('a wrong client secret fails the credentials check in one line that says what to do (exit 1)', async () => {
    const f = await cliFixture();
    fx = f;
    const result = await f.run(['doctor'], { env: { SLACK_CLIENT_SECRET: 'wrong-secret' } });
    expect(result.code).toBe(1);
    const fails = result.stdout.split('\n').filter((line) => line.startsWith('FAIL'));
    expect(fails).toHaveLength(1);
    expect(fails[0]).toMatch(
      /^FAIL slack credentials \(A0FAKEAPP\): Slack refused the client secret .*SLACK_CLIENT_SECRET/,
    );
    expect(result.stdout).toMatch(/^ok   configuration/m);
    expect(result.stdout + result.stderr).not.toContain('wrong-secret');
    expect(containsToken(result.stdout + result.stderr)).toBe(false);
  });

  it('a wrong client id and an unreachable Slack fail their checks', async () => {
    const f = await cliFixture();
    fx = f;
    const wrongId = await f.run(['doctor'], { env: { SLACK_CLIENT_ID: '999.999' } });
    expect(wrongId.code).toBe(1);
    expect(wrongId.stdout).toMatch(
      /^FAIL slack credentials \(A0FAKEAPP\): Slack does not know client id 999\.999/m,
    );

    const port = new URL(f.slack.url).port;
    await f.slack.close();
    const down = await f.run(['doctor'], { env: { SLACK_API_URL: `http://127.0.0.1:${port}/api/` } });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^FAIL slack reachable: no answer from http:\/\/127\.0\.0\.1:\d+\/api/m);
  });

  it('a bad configuration is a failed check, not a crash', async () => {
    const f = await cliFixture();
    fx = f;
    const result = await f.run(['doctor'], { env: { SLACK_ROTATOR_LISTEN: 'everywhere' } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL configuration: invalid configuration.*SLACK_ROTATOR_LISTEN/);
  });
});

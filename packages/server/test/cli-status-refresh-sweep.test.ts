import pg from 'pg';
import { createRotator } from 'slack-rotator';
import { createPostgresStore } from 'slack-rotator/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../rotator/test/helpers/postgres.js';
import { type CliFixture, cliFixture, containsToken } from './cli-process.js';

interface StatusRow {
  installation_id: string;
  chain: string;
  status: string;
  expires_in: number;
  version: number;
}

let fx: CliFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

describe('slack-rotator status, refresh, sweep (SQLite)', () => {
  it('status --json lists every chain with its expiry and no token; the table says the same', async () => {
    fx = await cliFixture();
    await fx.seed(['T0AAA', 'T0BBB'], { withUserToken: true });
    const result = await fx.run(['status', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as StatusRow[];
    expect(rows.map((row) => `${row.installation_id} ${row.chain}`).sort()).toEqual([
      'T0AAA bot',
      'T0AAA user:U0INSTALLER',
      'T0BBB bot',
      'T0BBB user:U0INSTALLER',
    ]);
    for (const row of rows) {
      expect(row.status).toBe('active');
      expect(row.version).toBe(1);
      expect(row.expires_in).toBeGreaterThan(43_000);
      expect(row.expires_in).toBeLessThanOrEqual(43_200);
    }
    expect(containsToken(result.stdout + result.stderr)).toBe(false);

    const table = await fx.run(['status']);
    expect(table.stdout).toMatch(/^INSTALLATION\s+CHAIN\s+STATUS\s+EXPIRES\s+VERSION/);
    expect(table.stdout).toMatch(/^T0AAA\s+bot\s+active\s+1[01]h \d+m\s+1\b/m);
    expect(containsToken(table.stdout)).toBe(false);
  });

  it('status on an empty store says so; --app with an unknown app exits 4', async () => {
    fx = await cliFixture();
    expect((await fx.run(['status'])).stdout).toBe('No installations yet.\n');
    expect(JSON.parse((await fx.run(['status', '--json'])).stdout)).toEqual([]);
    const unknown = await fx.run(['status', '--app', 'A0OTHER']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^slack-rotator: no configured app has app id A0OTHER/);
  });

  it('refresh --force rotates the chain once at Slack and prints the new expiry; without --force nothing is due', async () => {
    fx = await cliFixture();
    await fx.seed(['T0AAA']);
    const calls = () => fx?.slack.calls.filter((call) => call.grantType === 'refresh_token').length;

    const notDue = await fx.run(['refresh', 'T0AAA']);
    expect(notDue.code, notDue.stderr).toBe(0);
    expect(notDue.stdout).toMatch(/^not due, kept T0AAA bot: expires \d{4}-/);
    expect(calls()).toBe(0);

    const forced = await fx.run(['refresh', 'T0AAA', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^refreshed T0AAA bot: expires \d{4}-\d\d-\d\dT.*\(in 1[01]h \d+m\)/);
    expect(calls()).toBe(1);
    expect(containsToken(forced.stdout + forced.stderr)).toBe(false);
    const [row] = JSON.parse((await fx.run(['status', '--json'])).stdout) as StatusRow[];
    expect(row?.version).toBe(2);
  });

  it('refresh of an unknown installation exits 4, a malformed id or chain exits 2', async () => {
    fx = await cliFixture();
    await fx.seed(['T0AAA']);
    const unknown = await fx.run(['refresh', 'T0ZZZ']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/^slack-rotator: T0ZZZ has no bot chain/);
    const malformed = await fx.run(['refresh', 'team-1']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^slack-rotator: installation id must be T… or E…/);
    const chain = await fx.run(['refresh', 'T0AAA', '--chain', 'users']);
    expect(chain.code).toBe(2);
    expect(chain.stderr).toMatch(/--chain must be "bot" or "user:U…"/);
  });

  it('sweep refreshes the chains that are due and exits 1 when one fails', async () => {
    // Tokens of 10 minutes: inside the default 1 h refresh window from the start.
    fx = await cliFixture({ expiresInSeconds: 600 });
    const answers = await fx.seed(['T0AAA', 'T0BBB', 'T0CCC']);
    // Slack forgets one chain (an uninstall): its refresh fails.
    fx.slack.revokeChain(answers[1]?.refresh_token as string);
    const first = await fx.run(['sweep']);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stdout).toMatch(/^checked 3, refreshed 2, failed 1$/m);
    expect(containsToken(first.stdout + first.stderr)).toBe(false);
    const rows = JSON.parse((await fx.run(['status', '--json'])).stdout) as StatusRow[];
    expect(rows.map((row) => `${row.installation_id} ${row.status} ${row.version}`).sort()).toEqual([
      'T0AAA active 2',
      'T0BBB reauthorization_required 2',
      'T0CCC active 2',
    ]);

    // The dead chain is no longer swept; the fresh ones are not due again so soon.
    const second = await fx.run(['sweep']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^checked 2, refreshed 0, failed 0$/m);
  });
});

describe('slack-rotator migrate and status (PostgreSQL)', () => {
  it('migrate prints the schema version; status lists what the library saved there', async () => {
    fx = await cliFixture();
    const db = await createTestDatabase('cli_migrate');
    try {
      const url = `postgres://postgres@127.0.0.1:5432/${db.name}`;
      const env = { SLACK_ROTATOR_STORE: url };
      const before = await fx.run(['doctor'], { env });
      expect(before.code).toBe(1);
      expect(before.stdout).toMatch(
        /^FAIL store reachable and schema current: .*run `slack-rotator migrate`/m,
      );
      const migrated = await fx.run(['migrate'], { env });
      expect(migrated.code, migrated.stderr).toBe(0);
      expect(migrated.stdout).toMatch(
        /^store: PostgreSQL postgres:\/\/127\.0\.0\.1:5432\/\S+, schema version \d+\n/,
      );
      expect(migrated.stdout).toContain('server state: ready');
      expect((await fx.run(['migrate'], { env })).code).toBe(0);
      expect((await fx.run(['status'], { env })).stdout).toBe('No installations yet.\n');
      const after = await fx.run(['doctor'], { env });
      expect(after.stdout).toMatch(/^ok   store reachable and schema current — PostgreSQL/m);
      expect(after.stdout).toMatch(/^ok   clock — within \d+s of PostgreSQL/m);
      expect(after.code, after.stdout).toBe(0);

      const pool = new pg.Pool({ connectionString: url, max: 2 });
      try {
        const store = createPostgresStore({ pool });
        const rotator = createRotator({
          clientId: fx.slack.clientId,
          clientSecret: fx.slack.clientSecret,
          store,
          slackApiUrl: fx.slack.url,
        });
        await rotator.saveInstallation(fx.slack.install({ teamId: 'T0PG1' }));
        await rotator.close();
        await store.close();
      } finally {
        await pool.end();
      }
      const status = await fx.run(['status', '--json'], { env });
      expect(status.code, status.stderr).toBe(0);
      expect(
        (JSON.parse(status.stdout) as StatusRow[]).map(
          (row) => `${row.installation_id} ${row.chain} ${row.status}`,
        ),
      ).toEqual(['T0PG1 bot active']);
    } finally {
      await db.drop();
    }
  });
});

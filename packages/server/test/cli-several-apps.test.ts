import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliFixture, cliFixture } from './cli-process.js';

let fx: CliFixture;
let args: string[];
// The apps come from the file; the fixture's single-app variables are unset.
const env = { SLACK_CLIENT_ID: '', SLACK_CLIENT_SECRET: '', SLACK_APP_ID: '' };

beforeEach(async () => {
  fx = await cliFixture();
  const file = join(fx.dir, 'slack-rotator.yaml');
  writeFileSync(
    file,
    [
      'apps:',
      `  - { appId: ${fx.slack.appId}, clientId: "${fx.slack.clientId}", clientSecret: ${fx.slack.clientSecret} }`,
      '  - { appId: A0OTHER, clientId: "333.444", clientSecret: other-secret }',
    ].join('\n'),
  );
  args = ['--config', file];
});
afterEach(async () => {
  await fx.close();
});

describe('slack-rotator with several apps', () => {
  it('names installations <app id>:T…, and refresh needs the prefix', async () => {
    await fx.seed(['T0AAA']);
    const status = await fx.run([...args, 'status', '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(
      (JSON.parse(status.stdout) as { installation_id: string }[]).map((row) => row.installation_id),
    ).toEqual(['A0FAKEAPP:T0AAA']);
    const other = await fx.run([...args, 'status', '--json', '--app', 'A0OTHER'], { env });
    expect(JSON.parse(other.stdout)).toEqual([]);

    const bare = await fx.run([...args, 'refresh', 'T0AAA'], { env });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^slack-rotator: several apps are configured: prefix the installation id/);
    const prefixed = await fx.run([...args, 'refresh', 'A0FAKEAPP:T0AAA', '--force'], { env });
    expect(prefixed.code, prefixed.stderr).toBe(0);
    expect(prefixed.stdout).toMatch(/^refreshed A0FAKEAPP:T0AAA bot: expires /);
  });

  it('exchange and import ask which app; doctor checks each app', async () => {
    const exchange = await fx.run([...args, 'exchange', '-'], { env, stdin: 'xoxb-1-2-3\n' });
    expect(exchange.code).toBe(2);
    expect(exchange.stderr).toMatch(/several apps are configured: say which one with --app/);

    writeFileSync(join(fx.dir, 'installations.json'), '[]');
    const imported = await fx.run([...args, 'import', 'installations.json'], { env });
    expect(imported.code).toBe(2);
    expect(imported.stderr).toMatch(/several apps are configured: say which one with --app/);

    const doctor = await fx.run([...args, 'doctor'], { env });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^ok   slack credentials \(A0FAKEAPP\)/m);
    // The fake Slack knows one app only: the other one's client id is refused, as Slack would.
    expect(doctor.stdout).toMatch(
      /^FAIL slack credentials \(A0OTHER\): Slack does not know client id 333\.444/m,
    );
  });
});

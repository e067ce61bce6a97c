import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliFixture, cliFixture } from './cli-process.js';

let fx: CliFixture;
beforeEach(async () => {
  fx = await cliFixture();
});
afterEach(async () => {
  await fx.close();
});

describe('slack-rotator CLI: help, configuration errors', () => {
  it('--help lists every command, the exit codes and the settings', async () => {
    const result = await fx.run(['--help']);
    expect(result.code).toBe(0);
    for (const command of [
      'serve',
      'status',
      'refresh',
      'sweep',
      'import',
      'exchange',
      'encryption',
      'api-keys',
      'migrate',
      'doctor',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(result.stdout).toContain('Exit codes:');
    expect(result.stdout).toContain('SLACK_ROTATOR_STORE');
  });

  it('every command has --help with an example', async () => {
    for (const command of [
      ['status'],
      ['refresh'],
      ['import'],
      ['exchange'],
      ['encryption', 'rotate'],
      ['api-keys', 'create'],
      ['doctor'],
      ['migrate'],
      ['sweep'],
      ['serve'],
    ]) {
      const result = await fx.run([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout, command.join(' ')).toMatch(/Examples?:\n {2}\$ .*slack-rotator /);
    }
  });

  it('a bad setting exits 2 with one line that names it', async () => {
    const result = await fx.run(['status'], { env: { SLACK_ROTATOR_BUDGET_PER_MINUTE: '5000' } });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^slack-rotator: invalid configuration.*SLACK_ROTATOR_BUDGET_PER_MINUTE/);
  });

  it('a missing client secret is named in one line (exit 2)', async () => {
    const result = await fx.run(['sweep'], { env: { SLACK_CLIENT_SECRET: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^slack-rotator: .*SLACK_CLIENT_SECRET/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('an unknown option is a usage error (exit 2)', async () => {
    const result = await fx.run(['status', '--colour']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^slack-rotator: unknown option '--colour'/);
  });
});

describe('slack-rotator api-keys', () => {
  it('create prints the secret once, list never shows it, revoke revokes', async () => {
    const created = await fx.run([
      'api-keys',
      'create',
      '--name',
      'billing',
      '--installations',
      'T0AAA,T0BBB',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^srk_[A-Za-z0-9_-]{43}$/);
    const id = /created (key_[a-z0-9]+)/.exec(created.stderr)?.[1];
    expect(id).toBeDefined();

    const listed = await fx.run(['api-keys', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(secret);
    expect(listed.stdout).not.toContain(secret.slice(4));
    const keys = JSON.parse(listed.stdout) as {
      id: string;
      name: string;
      installations: string[];
      revoked_at: unknown;
    }[];
    expect(keys).toEqual([
      expect.objectContaining({ id, name: 'billing', installations: ['T0AAA', 'T0BBB'], revoked_at: null }),
    ]);
    expect(JSON.stringify(keys)).not.toMatch(/digest|[0-9a-f]{64}/);

    const table = await fx.run(['api-keys', 'list']);
    expect(table.stdout).toContain(id as string);
    expect(table.stdout).not.toContain(secret);

    const revoked = await fx.run(['api-keys', 'revoke', id as string]);
    expect(revoked.code).toBe(0);
    const after = JSON.parse((await fx.run(['api-keys', 'list', '--json'])).stdout) as {
      revoked_at: string | null;
    }[];
    expect(after[0]?.revoked_at).toEqual(expect.any(String));

    const again = await fx.run(['api-keys', 'revoke', id as string]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^slack-rotator: no unrevoked API key has id key_/);
  });

  it('create refuses a malformed installation id and needs a scope', async () => {
    const bad = await fx.run(['api-keys', 'create', '--name', 'x', '--installations', 'T0AAA,nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"nope" is not an installation id/);
    const none = await fx.run(['api-keys', 'create', '--name', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--installations .* or --all/);
    const all = await fx.run(['api-keys', 'create', '--name', 'admin', '--all']);
    expect(all.code).toBe(0);
    const keys = JSON.parse((await fx.run(['api-keys', 'list', '--json'])).stdout) as {
      installations: unknown;
    }[];
    expect(keys.map((key) => key.installations)).toEqual(['*']);
  });
});

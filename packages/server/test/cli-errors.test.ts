import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliFixture, cliFixture } from './cli-process.js';

let fx: CliFixture;
beforeEach(async () => {
  fx = await cliFixture();
});
afterEach(async () => {
  await fx.close();
});

describe('slack-rotator errors: one line, documented exit codes', () => {
  it('an error is one line without a stack; --verbose adds the stack', async () => {
    const plain = await fx.run(['refresh', 'T0ZZZ']);
    expect(plain.code).toBe(4);
    expect(plain.stderr).toBe('slack-rotator: T0ZZZ has no bot chain (see slack-rotator status)\n');

    const verbose = await fx.run(['refresh', 'T0ZZZ', '--verbose']);
    expect(verbose.code).toBe(4);
    const lines = verbose.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('slack-rotator: T0ZZZ has no bot chain (see slack-rotator status)');
    expect(lines.some((line) => /^\s+at .*refresh\.js/.test(line))).toBe(true);
  });

  it('an unreachable store exits 3, naming the store without its password', async () => {
    const result = await fx.run(['status'], {
      env: { SLACK_ROTATOR_STORE: 'postgres://rotator:hunter2-secret@127.0.0.1:9/tokens' },
    });
    expect(result.code).toBe(3);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^slack-rotator: store unreachable \(postgres:\/\/127\.0\.0\.1:9\/tokens\)/,
    );
    expect(result.stderr).not.toContain('hunter2');
    const verbose = await fx.run(['status', '--verbose'], {
      env: { SLACK_ROTATOR_STORE: 'postgres://rotator:hunter2-secret@127.0.0.1:9/tokens' },
    });
    expect(verbose.code).toBe(3);
    expect(verbose.stderr).toContain('caused by:');
    expect(verbose.stderr).not.toContain('hunter2');
  });

  it('a configuration file that does not exist is named, exit 2', async () => {
    const result = await fx.run(['--config', 'missing.yaml', 'status']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^slack-rotator: invalid configuration.*missing\.yaml.*ENOENT/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/cjs-consumer.cjs', import.meta.url));
let project: string;

// The published files only: `npm pack`, unpacked into a consumer's node_modules.
beforeAll(() => {
  expect(existsSync(join(packageDir, 'dist/index.js')), 'run `npm run build` first (npm test does)').toBe(
    true,
  );
  project = mkdtempSync(join(tmpdir(), 'slack-rotator-consumer-'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['pack', '--silent', '--pack-destination', project], { cwd: packageDir, stdio: 'pipe' });
  const tarball = readdirSync(project).find((name) => name.endsWith('.tgz')) as string;
  const target = join(project, 'node_modules', 'slack-rotator');
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', join(project, tarball), '-C', target, '--strip-components=1']);
  cpSync(fixture, join(project, 'consumer.cjs'));
  writeFileSync(
    join(project, 'consumer.mjs'),
    [
      "import { createRotator, isRotatorError } from 'slack-rotator';",
      "import { createFakeSlack } from 'slack-rotator/testing';",
      'const slack = await createFakeSlack();',
      "if (typeof createRotator !== 'function' || typeof isRotatorError !== 'function') process.exit(1);",
      "await slack.close(); process.stdout.write('esm-ok\\n');",
    ].join('\n'),
  );
}, 60_000);

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

test('the tarball holds dist and no tests or sources of tests', () => {
  const files = execFileSync(
    'tar',
    ['-tzf', join(project, readdirSync(project).find((n) => n.endsWith('.tgz')) as string)],
    {
      encoding: 'utf8',
    },
  ).split('\n');
  expect(files).toContain('package/dist/index.js');
  expect(files).toContain('package/dist/index.d.ts');
  expect(files.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/'))).toBe(false);
});

test('a CommonJS consumer can require() the packed package and its subpaths (Node >= 20.19)', () => {
  const output = execFileSync(process.execPath, ['consumer.cjs'], { cwd: project, encoding: 'utf8' });
  expect(output.trim()).toBe('cjs-ok');
});

test('an ESM consumer can import the packed package and its subpaths', () => {
  const output = execFileSync(process.execPath, ['consumer.mjs'], { cwd: project, encoding: 'utf8' });
  expect(output.trim()).toBe('esm-ok');
});

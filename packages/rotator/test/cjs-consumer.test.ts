import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/cjs-consumer.cjs', import.meta.url));
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

test('a CommonJS consumer can require() the built package and its subpaths', () => {
  expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
  const output = execFileSync(process.execPath, [fixture], { encoding: 'utf8' });
  expect(output.trim()).toBe('cjs-ok');
});

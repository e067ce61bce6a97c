import { test } from 'vitest';
import { killAndResume } from './fixtures/migration-kill-scenario.js';

test('1,000 installations from a JSON file, killed with SIGKILL at seeded points and resumed: each exchanged once, failures with their codes', async () => {
  await killAndResume('json', Number(process.env.MIGRATION_SEED ?? 4_242));
}, 60_000);

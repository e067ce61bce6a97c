import { test } from 'vitest';
import { killAndResume } from './fixtures/migration-kill-scenario.js';

test("1,000 installations from @slack/oauth's FileInstallationStore layout, killed with SIGKILL at seeded points and resumed", async () => {
  await killAndResume('file-store', Number(process.env.MIGRATION_SEED ?? 1_717));
}, 60_000);

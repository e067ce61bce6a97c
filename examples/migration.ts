/**
 * Moves installations from @slack/oauth's FileInstallationStore into slack-rotator, exchanging legacy
 * long-lived xoxb-/xoxp- tokens for rotating chains. Safe to run again after a crash: it resumes from
 * its journal and never exchanges a token twice.
 *
 * Before running: turn token rotation on for the app, and stop whatever refreshed the installations
 * that already rotate (two refreshers on one chain kill it).
 *
 * In your app, import from 'slack-rotator' and 'slack-rotator/sqlite'.
 * Run with: SLACK_CLIENT_ID=… SLACK_CLIENT_SECRET=… npx tsx examples/migration.ts [--dry-run]
 */
import Database from 'better-sqlite3';
import { createRotator } from '../packages/rotator/src/index.js';
import { migrateInstallations } from '../packages/rotator/src/migrate/migrate.js';
import { readFileInstallationStore } from '../packages/rotator/src/migrate/sources.js';
import { createSqliteStore } from '../packages/rotator/src/sqlite.js';

const database = new Database('tokens.db');
const store = createSqliteStore({ database });
const rotator = createRotator({
  clientId: process.env.SLACK_CLIENT_ID ?? '',
  clientSecret: process.env.SLACK_CLIENT_SECRET ?? '',
  store,
});

const report = await migrateInstallations({
  rotator,
  store,
  installations: readFileInstallationStore({ baseDir: './.bolt-installations' }),
  journal: './slack-migration.journal', // keep it until every workspace is migrated
  ratePerMinute: 50, // Slack's Tier 3
  dryRun: process.argv.includes('--dry-run'),
  onProgress: (p) => {
    if (p.processed % 50 === 0 || p.processed === p.total) console.log(`${p.processed}/${p.total}`);
  },
});

console.log(
  `${report.exchanged} exchanged, ${report.imported} imported, ${report.alreadyMigrated} already done, ${report.failed} failed`,
);
for (const failure of report.failures) {
  const who = failure.teamId ?? failure.enterpriseId ?? '(unreadable)';
  const chain = failure.chain === null || failure.chain === 'bot' ? 'bot' : `user ${failure.chain.userId}`;
  console.log(`${who} ${chain}: ${failure.code}${failure.retryable ? ' (a later run retries)' : ''}`);
}
if (report.stoppedBy !== null) console.log(`stopped early: ${report.stoppedBy}`);

await rotator.close();
database.close();

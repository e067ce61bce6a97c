/**
 * A cron job that posts a nightly report to every workspace, outside any Bolt event handler, with
 * your own `WebClient` wrapped so that every call carries a fresh token.
 *
 * In your app, import from 'slack-rotator', 'slack-rotator/sqlite' and 'slack-rotator/web-api'.
 * Run with: SLACK_CLIENT_ID=… SLACK_CLIENT_SECRET=… npx tsx examples/cron-job.ts
 */
import { WebClient } from '@slack/web-api';
import Database from 'better-sqlite3';
import { createRotator, isReauthorizationRequired } from '../packages/rotator/src/index.js';
import { createSqliteStore } from '../packages/rotator/src/sqlite.js';
import { createRotatingClient } from '../packages/rotator/src/web-api.js';

const database = new Database('tokens.db');
const store = createSqliteStore({ database });
const rotator = createRotator({
  clientId: process.env.SLACK_CLIENT_ID ?? '',
  clientSecret: process.env.SLACK_CLIENT_SECRET ?? '',
  store,
});
// One WebClient for every workspace: the wrapper adds each workspace's token per call. Its retry
// policy still handles 5xx and 429 for the call itself; refreshes never go through it.
const web = new WebClient(undefined, { retryConfig: { retries: 3 } });

// Quiet workspaces keep rotating even when this job does not run.
const sweeper = rotator.startSweeper({ intervalMs: 5 * 60_000 });

const workspaces = [
  { teamId: 'T0123', channel: 'C0123' },
  { teamId: 'T0456', channel: 'C0456' },
];
for (const { teamId, channel } of workspaces) {
  const client = createRotatingClient({ client: web, rotator, key: { teamId } });
  try {
    const answer = await client.chat.postMessage({ channel, text: 'Nightly report: all green.' });
    console.log(`${teamId}: posted ${answer.ts}`);
  } catch (error) {
    if (isReauthorizationRequired(error)) {
      console.log(`${teamId}: must install the app again (${error.code})`);
      continue;
    }
    throw error;
  }
}

await sweeper.stop();
await rotator.close();
database.close();

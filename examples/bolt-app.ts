/**
 * A Bolt app whose tokens rotate safely: slack-rotator's `authorize`, its own install flow (for
 * Bolt's built-in OAuth, pass `installationStore: createInstallationStore(rotator)` instead), the
 * revocation listeners, and a sweeper so that quiet workspaces keep rotating.
 *
 * In your app, import from 'slack-rotator', 'slack-rotator/sqlite' and 'slack-rotator/bolt'.
 * Run with: SLACK_SIGNING_SECRET=… SLACK_CLIENT_ID=… SLACK_CLIENT_SECRET=… SLACK_STATE_SECRET=… \
 *   npx tsx examples/bolt-app.ts
 */
import { App } from '@slack/bolt';
import Database from 'better-sqlite3';
import { createAuthorize, registerRevocationListeners } from '../packages/rotator/src/bolt.js';
import { createRotator, isReauthorizationRequired } from '../packages/rotator/src/index.js';
import { createSqliteStore } from '../packages/rotator/src/sqlite.js';

const store = createSqliteStore({ database: new Database('tokens.db') });
const rotator = createRotator({
  clientId: process.env.SLACK_CLIENT_ID ?? '',
  clientSecret: process.env.SLACK_CLIENT_SECRET ?? '',
  stateSecret: process.env.SLACK_STATE_SECRET ?? '', // ≥ 32 characters; signs the install state
  store,
});

const app = new App({
  signingSecret: process.env.SLACK_SIGNING_SECRET ?? '',
  authorize: createAuthorize(rotator),
  customRoutes: [
    {
      path: '/slack/install',
      method: 'GET',
      handler: (_req, res) => {
        const { url } = rotator.installUrl({ scopes: ['app_mentions:read', 'chat:write'] });
        res.writeHead(302, { Location: url }).end();
      },
    },
    {
      path: '/slack/oauth_redirect',
      method: 'GET',
      handler: (req, res) => {
        const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
        rotator.completeInstall({ code: query.get('code') ?? '', state: query.get('state') ?? '' }).then(
          () => res.writeHead(200).end('Installed.'),
          (error: unknown) =>
            res.writeHead(isReauthorizationRequired(error) ? 400 : 503).end('The install did not complete.'),
        );
      },
    },
  ],
});

// tokens_revoked and app_uninstalled mark the chains revoked (Bolt runs them without authorize).
registerRevocationListeners(app, rotator);

app.event('app_mention', async ({ event, client }) => {
  await client.chat.postMessage({ channel: event.channel, text: 'Hello!' });
});

// A chain Slack refused: Bolt answers that workspace's events with 401 until it installs again.
rotator.on('reauthorization_required', ({ installationId, chainKey, cause }) => {
  console.warn(`installation ${installationId} must install the app again (${chainKey}: ${cause})`);
});

const sweeper = rotator.startSweeper({ intervalMs: 5 * 60_000 });
await app.start(Number(process.env.PORT ?? 3000));
console.log('Bolt app running');

process.once('SIGTERM', async () => {
  await app.stop();
  await sweeper.stop();
  await rotator.close();
  await store.close();
});

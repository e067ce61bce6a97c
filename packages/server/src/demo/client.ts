/**
 * One client process of the demo: it calls `chat.postMessage` for every workspace in bursts, with a
 * token from the broker (`GET …/token`, and `POST …/token/expired` when Slack answers
 * `token_expired`) or, with `--naive`, from the shared SQLite file through the textbook code.
 */
import Database from 'better-sqlite3';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { createBrokerClient, isBrokerError } from '../client.js';
import { SETTINGS } from './config.js';
import { postMessage, runBursts, seededRandom } from './load.js';
import { createNaiveTokens } from './naive.js';
import {
  bump,
  type ClientStats,
  emptyStats,
  type FromClient,
  type Go,
  type Setup,
  type ToClient,
  type Workspace,
} from './protocol.js';

const send = (message: FromClient) => process.send?.(message);

function codeOf(error: unknown): string {
  if (isBrokerError(error)) return `broker_${error.code}`;
  return error instanceof Error ? error.name : 'unknown';
}

/** One API call for a workspace, and what closes the client's resources. */
interface Caller {
  call(workspace: Workspace): Promise<void>;
  close(): Promise<void>;
}

function countOutcome(stats: ClientStats, answer: { ok: boolean; error?: string }): void {
  if (answer.ok) {
    stats.ok += 1;
  } else {
    stats.failed += 1;
    bump(stats.failedBy, answer.error ?? 'unknown');
  }
}

function failed(stats: ClientStats, error: unknown): void {
  stats.failed += 1;
  bump(stats.failedBy, codeOf(error));
}

/** Asks the broker for each call's token, as a service in any language would. */
function brokerCaller(
  setup: Setup,
  source: Extract<Setup['source'], { mode: 'broker' }>,
  stats: ClientStats,
) {
  const broker = createBrokerClient({ url: source.brokerUrl, apiKey: source.apiKey });
  const caller: Caller = {
    async call({ installationId }) {
      stats.calls += 1;
      try {
        stats.tokenRequests += 1;
        const { token } = await broker.getToken(installationId);
        let answer = await postMessage(setup.slackApiUrl, token, 'hello');
        if (!answer.ok && answer.error === 'token_expired') {
          // The broker refreshes only if this is still the stored token, so many clients reporting
          // the same expired token cause one refresh at most.
          stats.expiredReports += 1;
          const fresh = await broker.tokenExpired(installationId, token);
          answer = await postMessage(setup.slackApiUrl, fresh.token, 'hello');
        }
        countOutcome(stats, answer);
      } catch (error) {
        failed(stats, error);
      }
    },
    async close() {},
  };
  return caller;
}

/** Reads and refreshes the shared SQLite file itself, with no lock: the comparison. */
function naiveCaller(setup: Setup, source: Extract<Setup['source'], { mode: 'naive' }>, stats: ClientStats) {
  const database = new Database(source.databasePath);
  const store = createSqliteStore({ database });
  const tokens = createNaiveTokens({
    store,
    slackApiUrl: setup.slackApiUrl,
    clientId: source.clientId,
    clientSecret: source.clientSecret,
    refreshWindowMs: SETTINGS.refreshWindowMs,
    onRefreshed: () => {
      stats.refreshes += 1;
    },
    onRefreshFailed: (code) => bump(stats.refreshErrors, code),
  });
  const caller: Caller = {
    async call({ chainKey }) {
      stats.calls += 1;
      try {
        countOutcome(
          stats,
          await postMessage(setup.slackApiUrl, await tokens.getToken(chainKey ?? ''), 'hello'),
        );
      } catch (error) {
        failed(stats, error);
      }
    },
    async close() {
      await store.close();
      database.close();
    },
  };
  return caller;
}

async function run(setup: Setup, go: Promise<Go>): Promise<void> {
  const stats = emptyStats();
  const { source } = setup;
  const caller =
    source.mode === 'broker' ? brokerCaller(setup, source, stats) : naiveCaller(setup, source, stats);
  send({ type: 'ready' });
  const { startAt, endAt, workspaces } = await go;
  const progress = setInterval(() => send({ type: 'progress', stats }), 250);
  try {
    await runBursts({
      startAt,
      endAt,
      workspaces,
      random: seededRandom(setup.seed * 1_000 + setup.index),
      call: (workspace) => caller.call(workspace),
    });
  } finally {
    clearInterval(progress);
    await caller.close();
  }
  send({ type: 'done', stats });
}

let resolveGo: (go: Go) => void = () => {};
const go = new Promise<Go>((resolve) => {
  resolveGo = resolve;
});

process.on('message', (message: ToClient) => {
  if (message.type === 'go') {
    resolveGo(message);
    return;
  }
  run(message, go)
    .catch((error: unknown) => {
      send({ type: 'failed', message: `${codeOf(error)}: ${error instanceof Error ? error.message : ''}` });
      process.exitCode = 1;
    })
    .finally(() => process.disconnect?.());
});

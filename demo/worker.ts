/**
 * One worker process of the demo: it opens the shared SQLite file and calls `chat.postMessage` for
 * every workspace in bursts, with slack-rotator (`withToken`) or, with `naive`, the textbook code.
 */
import Database from 'better-sqlite3';
import { createRotator, isRotatorError, type Logger, type Rotator } from '../packages/rotator/src/index.js';
import { createSqliteStore } from '../packages/rotator/src/sqlite.js';
import { SETTINGS } from './config.js';
import { postMessage, runBursts, seededRandom } from './load.js';
import { createNaiveTokens } from './naive.js';
import { bump, emptyStats, type FromWorker, type Setup, type ToWorker, type Workspace } from './protocol.js';

const send = (message: FromWorker) => process.send?.(message);

function codeOf(error: unknown): string {
  if (isRotatorError(error)) return error.code;
  return error instanceof Error ? error.name : 'unknown';
}

/** Counts the rotator's warnings and errors by message (it never logs a token); prints nothing. */
function countingLogger(counts: Record<string, number>): Logger {
  const note = (_obj: object, msg?: string) => bump(counts, msg ?? 'log');
  return { debug: () => {}, info: () => {}, warn: note, error: note };
}

async function run(setup: Setup, go: Promise<Extract<ToWorker, { type: 'go' }>>): Promise<void> {
  const database = new Database(setup.databasePath);
  const store = createSqliteStore({ database });
  const stats = emptyStats();
  const fail = (code: string) => {
    stats.failed += 1;
    bump(stats.failedBy, code);
  };
  let rotator: Rotator | undefined;
  let call: (workspace: Workspace) => Promise<void>;

  if (setup.naive) {
    const tokens = createNaiveTokens({
      store,
      slackApiUrl: setup.slackApiUrl,
      clientId: setup.clientId,
      clientSecret: setup.clientSecret,
      refreshWindowMs: SETTINGS.refreshWindowMs,
      onRefreshed: () => {
        stats.refreshes += 1;
      },
      onRefreshFailed: (code) => bump(stats.refreshErrors, code),
    });
    call = async ({ chainKey }) => {
      stats.calls += 1;
      try {
        const answer = await postMessage(setup.slackApiUrl, await tokens.getToken(chainKey), 'hello');
        if (answer.ok) stats.ok += 1;
        else fail(answer.error ?? 'unknown');
      } catch (error) {
        fail(codeOf(error));
      }
    };
  } else {
    const active = createRotator({
      clientId: setup.clientId,
      clientSecret: setup.clientSecret,
      store,
      slackApiUrl: setup.slackApiUrl,
      tokenLifetimeMs: SETTINGS.accessTokenLifetimeMs,
      refreshWindowMs: SETTINGS.refreshWindowMs,
      requestTimeoutMs: 2_000,
      logger: countingLogger(stats.refreshErrors),
    });
    active.on('refreshed', () => {
      stats.refreshes += 1;
    });
    rotator = active;
    call = async ({ teamId }) => {
      stats.calls += 1;
      try {
        const answer = await active.withToken({ teamId }, (token) =>
          postMessage(setup.slackApiUrl, token, 'hello'),
        );
        if (answer.ok) stats.ok += 1;
        else fail(answer.error ?? 'unknown');
      } catch (error) {
        fail(codeOf(error));
      }
    };
  }

  send({ type: 'ready' });
  const { startAt, endAt } = await go;
  const progress = setInterval(() => send({ type: 'progress', stats }), 250);
  try {
    await runBursts({
      startAt,
      endAt,
      workspaces: setup.workspaces,
      random: seededRandom(setup.seed * 1_000 + setup.index),
      call,
    });
  } finally {
    clearInterval(progress);
    await rotator?.close();
    await store.close();
    database.close();
  }
  send({ type: 'done', stats });
}

let resolveGo: (go: Extract<ToWorker, { type: 'go' }>) => void = () => {};
const go = new Promise<Extract<ToWorker, { type: 'go' }>>((resolve) => {
  resolveGo = resolve;
});

process.on('message', (message: ToWorker) => {
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

/**
 * `npm start [-- --naive]`: several worker processes share one SQLite file and call Slack for many
 * workspaces at once, against a fake Slack whose tokens live seconds; then a report of rotations,
 * duplicates, lockouts and failed calls. The last stdout line is `REPORT {json}`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createRotator, type TokenStore } from '../packages/rotator/src/index.js';
import { createSqliteStore } from '../packages/rotator/src/sqlite.js';
import { createFakeSlack, type FakeSlack } from '../packages/rotator/src/testing/index.js';
import { type DemoConfig, parseConfig, SETTINGS } from './config.js';
import { seededRandom } from './load.js';
import {
  emptyStats,
  type FromWorker,
  type Setup,
  sumStats,
  type ToWorker,
  type WorkerStats,
  type Workspace,
} from './protocol.js';
import { buildReport, countLockouts, formatReport, slackCounts } from './report.js';

/** Installs the workspaces at the fake Slack and saves them, with seeded ages so chains rotate apart. */
async function install(slack: FakeSlack, store: TokenStore, config: DemoConfig): Promise<Workspace[]> {
  const rotator = createRotator({
    clientId: slack.clientId,
    clientSecret: slack.clientSecret,
    store,
    slackApiUrl: slack.url,
    tokenLifetimeMs: SETTINGS.accessTokenLifetimeMs,
    refreshWindowMs: SETTINGS.refreshWindowMs,
  });
  const random = seededRandom(config.seed);
  const workspaces: Workspace[] = [];
  for (let i = 1; i <= config.workspaces; i++) {
    const teamId = `T0DEMO${String(i).padStart(3, '0')}`;
    const age = Math.floor(random() * SETTINGS.accessTokenLifetimeMs * 0.5);
    const saved = await rotator.saveInstallation(slack.install({ teamId }), { issuedAt: Date.now() - age });
    workspaces.push({ teamId, chainKey: saved.chains[0]?.chainKey ?? '' });
  }
  await rotator.close();
  return workspaces;
}

interface Worker {
  child: ChildProcess;
  /** The worker's latest counts. */
  stats(): WorkerStats;
  /** Resolves when the worker is set up; rejects if it fails first. */
  ready: Promise<void>;
  /** Resolves when the worker has reported its final counts and exited cleanly. */
  done: Promise<void>;
}

function startWorker(setup: Setup): Worker {
  const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let stats = emptyStats();
  let markReady = () => {};
  const done = new Promise<void>((resolve, reject) => {
    let finished = false;
    child.on('error', reject);
    child.on('message', (message: FromWorker) => {
      if (message.type === 'ready') markReady();
      else if (message.type === 'failed')
        reject(new Error(`worker ${setup.index} failed: ${message.message}`));
      else {
        stats = message.stats;
        finished ||= message.type === 'done';
      }
    });
    child.on('exit', (code) => {
      if (finished && code === 0) resolve();
      else reject(new Error(`worker ${setup.index} exited with code ${code} before finishing`));
    });
  });
  // A worker that fails while starting fails the start, rather than leaving main waiting for it.
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    done.catch(reject);
  });
  child.send(setup);
  return { child, stats: () => stats, ready, done };
}

/** A progress line on stderr: rewritten in place on a terminal, a plain line every 2 s otherwise. */
function startProgress(render: () => Promise<string>): () => Promise<void> {
  const tty = process.stderr.isTTY === true;
  let running = Promise.resolve();
  const timer = setInterval(
    () => {
      running = render().then((line) => {
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      });
    },
    tty ? 250 : 2_000,
  );
  return async () => {
    clearInterval(timer);
    await running;
    if (tty) process.stderr.write('\n');
  };
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const slack = await createFakeSlack({
    expiresInSeconds: SETTINGS.expiresInSeconds,
    accessTokenLifetimeMs: SETTINGS.accessTokenLifetimeMs,
    refreshGraceMs: SETTINGS.refreshGraceMs,
    siblingSurvivor: SETTINGS.siblingSurvivor,
    maxActiveTokens: SETTINGS.maxActiveTokens,
    latencyMs: { ...SETTINGS.latencyMs },
    seed: config.seed,
  });
  const folder = mkdtempSync(join(tmpdir(), 'slack-rotator-demo-'));
  const databasePath = join(folder, 'tokens.db');
  const database = new Database(databasePath);
  const store = createSqliteStore({ database });
  const workers: Worker[] = [];
  try {
    const workspaces = await install(slack, store, config);
    const mode = config.naive ? 'naive (unlocked read-refresh-write)' : 'slack-rotator';
    process.stderr.write(
      `${mode}: ${config.workers} worker processes, ${config.workspaces} workspaces, ${config.seconds} s, seed ${config.seed}\n`,
    );
    for (let index = 0; index < config.workers; index++) {
      workers.push(
        startWorker({
          type: 'setup',
          index,
          naive: config.naive,
          seed: config.seed,
          databasePath,
          slackApiUrl: slack.url,
          clientId: slack.clientId,
          clientSecret: slack.clientSecret,
          workspaces,
        }),
      );
    }
    await Promise.all(workers.map((w) => w.ready));
    const startAt = Date.now() + 200;
    const endAt = startAt + config.seconds * 1000;
    for (const w of workers) w.child.send({ type: 'go', startAt, endAt } satisfies ToWorker);

    const stopProgress = startProgress(async () => {
      const stats = sumStats(workers.map((w) => w.stats()));
      const counts = slackCounts(slack);
      const { lockouts, chains } = await countLockouts(store, slack, slack.clientId);
      const elapsed = Math.max(0, (Date.now() - startAt) / 1000)
        .toFixed(1)
        .padStart(5);
      return `${elapsed} s  calls ${stats.calls} (failed ${stats.failed})  refresh calls ${counts.refreshCalls}  rotations ${counts.rotations}  duplicates ${counts.duplicates}  dead chains ${lockouts}/${chains}`;
    });
    try {
      await Promise.all(workers.map((w) => w.done));
    } finally {
      await stopProgress();
    }
    // A forked pair is only refused once its parent's grace period is over: wait, then look.
    process.stderr.write(`waiting ${SETTINGS.refreshGraceMs / 1000} s for grace periods to end…\n`);
    await sleep(SETTINGS.refreshGraceMs + 250);
    const report = buildReport(
      config,
      sumStats(workers.map((w) => w.stats())),
      slackCounts(slack),
      await countLockouts(store, slack, slack.clientId),
    );
    process.stdout.write(`${formatReport(report)}\n\nREPORT ${JSON.stringify(report)}\n`);
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill();
    await store.close();
    database.close();
    await slack.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

/**
 * `slack-rotator demo` (`npm start`): a fake Slack whose tokens live seconds, the broker and its
 * sweeper on the embedded SQLite store, and several client processes asking the broker for tokens
 * and calling Slack with them, for many workspaces at once; then a report of rotations, duplicates,
 * lockouts and failed calls. With `naive`, the clients instead share one SQLite file and refresh it
 * themselves with the textbook unlocked code — the comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createRotator, type TokenStore } from 'slack-rotator';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { createFakeSlack, type FakeSlack } from 'slack-rotator/testing';
import { type DemoBroker, installThroughBroker, startDemoBroker } from './broker-setup.js';
import { type Client, type ProgressStream, startClient, startProgress } from './clients.js';
import { type DemoConfig, SETTINGS } from './config.js';
import { seededRandom } from './load.js';
import { type Go, type Source, sumStats, type Workspace } from './protocol.js';
import { buildReport, countLockouts, type DemoReport, slackCounts } from './report.js';

/** Where the demo writes its progress (the report is returned, for the caller to print). */
export interface DemoIo {
  stderr: ProgressStream;
}

/** A planned workspace: its team id and how old its installed token is when the load starts. */
interface Team {
  teamId: string;
  ageMs: number;
}

/** Install ages are seeded and under half a lifetime, so chains rotate apart. */
const MAX_AGE_MS = SETTINGS.accessTokenLifetimeMs * 0.5;

function plannedTeams(config: DemoConfig): Team[] {
  const random = seededRandom(config.seed);
  return Array.from({ length: config.workspaces }, (_, i) => ({
    teamId: `T0DEMO${String(i + 1).padStart(3, '0')}`,
    ageMs: Math.floor(random() * MAX_AGE_MS),
  }));
}

/** Naive mode: saves the installs straight into the shared file, backdated by their ages. */
async function installDirectly(
  slack: FakeSlack,
  store: TokenStore,
  teams: readonly Team[],
): Promise<Workspace[]> {
  const rotator = createRotator({
    clientId: slack.clientId,
    clientSecret: slack.clientSecret,
    store,
    slackApiUrl: slack.url,
    tokenLifetimeMs: SETTINGS.accessTokenLifetimeMs,
    refreshWindowMs: SETTINGS.refreshWindowMs,
  });
  try {
    const workspaces: Workspace[] = [];
    for (const { teamId, ageMs } of teams) {
      const saved = await rotator.saveInstallation(slack.install({ teamId }), {
        issuedAt: Date.now() - ageMs,
      });
      workspaces.push({ teamId, installationId: teamId, chainKey: saved.chains[0]?.chainKey ?? '' });
    }
    return workspaces;
  } finally {
    await rotator.close();
  }
}

/** Rejects when the process receives SIGINT or SIGTERM, so that the run still cleans up. */
function interruption(): { promise: Promise<never>; release(): void } {
  let onSignal = () => {};
  const promise = new Promise<never>((_, reject) => {
    onSignal = () => reject(new Error('interrupted'));
  });
  promise.catch(() => {});
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    promise,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Runs the demo and returns its report (never holding a token).
 * @throws Error when a client process fails or the run is interrupted.
 */
export async function runDemo(config: DemoConfig, io: DemoIo): Promise<DemoReport> {
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
  const interrupt = interruption();
  const clients: Client[] = [];
  let broker: DemoBroker | undefined;
  let shared: { database: Database.Database; store: TokenStore } | undefined;
  try {
    const teams = plannedTeams(config);
    let store: TokenStore;
    let source: Source;
    let installed: Promise<Workspace[]>;
    if (config.naive) {
      const databasePath = join(folder, 'tokens.db');
      const database = new Database(databasePath);
      shared = { database, store: createSqliteStore({ database }) };
      store = shared.store;
      source = { mode: 'naive', databasePath, clientId: slack.clientId, clientSecret: slack.clientSecret };
      installed = Promise.resolve(await installDirectly(slack, store, teams));
      io.stderr.write(
        `naive (unlocked read-refresh-write): ${config.workers} client processes share one SQLite file; ${config.workspaces} workspaces, ${config.seconds} s, seed ${config.seed}\n`,
      );
    } else {
      broker = await startDemoBroker(slack, folder);
      store = broker.server.backends.store;
      source = { mode: 'broker', brokerUrl: broker.server.url, apiKey: broker.apiKey };
      io.stderr.write(
        `broker + sweeper on ${broker.server.url} (embedded SQLite): ${config.workers} client processes, ${config.workspaces} workspaces, ${config.seconds} s, seed ${config.seed}\n` +
          `dashboard: ${broker.server.url}/  (open it while the demo runs)\n`,
      );
      // Installed while the clients start, each at the moment that gives it its planned age.
      installed = installThroughBroker(slack, broker, teams, Date.now(), MAX_AGE_MS);
    }
    for (let index = 0; index < config.workers; index++) {
      clients.push(startClient({ type: 'setup', index, seed: config.seed, slackApiUrl: slack.url, source }));
    }
    const [workspaces] = await Promise.race([
      Promise.all([installed, ...clients.map((c) => c.ready)]),
      interrupt.promise,
    ]);
    const startAt = Date.now() + 200;
    const endAt = startAt + config.seconds * 1000;
    for (const c of clients) c.child.send({ type: 'go', startAt, endAt, workspaces } satisfies Go);

    const stopProgress = startProgress(io.stderr, async () => {
      const stats = sumStats(clients.map((c) => c.stats()));
      const counts = slackCounts(slack);
      const { lockouts, chains } = await countLockouts(store, slack, slack.clientId);
      const elapsed = Math.max(0, (Date.now() - startAt) / 1000)
        .toFixed(1)
        .padStart(5);
      return `${elapsed} s  calls ${stats.calls} (failed ${stats.failed})  refresh calls ${counts.refreshCalls}  rotations ${counts.rotations}  duplicates ${counts.duplicates}  dead chains ${lockouts}/${chains}`;
    });
    try {
      await Promise.race([Promise.all(clients.map((c) => c.done)), interrupt.promise]);
    } finally {
      await stopProgress();
    }
    // A forked pair is only refused once its parent's grace period is over: wait, then look.
    io.stderr.write(`waiting ${SETTINGS.refreshGraceMs / 1000} s for grace periods to end…\n`);
    await Promise.race([sleep(SETTINGS.refreshGraceMs + 250), interrupt.promise]);
    return buildReport(
      config,
      sumStats(clients.map((c) => c.stats())),
      slackCounts(slack),
      await countLockouts(store, slack, slack.clientId),
    );
  } finally {
    interrupt.release();
    for (const c of clients) if (c.child.exitCode === null) c.child.kill();
    await broker?.server.stop();
    if (shared !== undefined) {
      await shared.store.close();
      shared.database.close();
    }
    await slack.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

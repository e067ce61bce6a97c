/**
 * `npm run bench:storm`: 8 OS processes × 1,000 chains that all expired, asked for at the same
 * instant, on PostgreSQL and on Redis (each store with its own lock), against the fake Slack (50 ms
 * latency, no faults) in this process. Reports refresh calls at Slack, duplicates, lockouts, caller
 * waits, wake-up latency from each holder's commit to each waiter resuming, and a cold `getToken`
 * against a bare read of the same row. Each backend runs 3 times, interleaved, each full storm after
 * a calm one (8 processes × 10 chains); medians are reported. Each run's processes go through a
 * storm of 1,000 chains of their own first (reported apart), then the measured one (STORM_FIRST=0:
 * the first alone). docs/BENCHMARKS.md says how wake-up is
 * measured. STORM_PROCESSES, STORM_CHAINS, STORM_CALM_CHAINS (0: none), STORM_RUNS, STORM_POOL_MAX and
 * STORM_COLD_SAMPLES change the sizes, STORM_BACKENDS (`postgres,redis`) what runs (for a quick try: STORM_CHAINS=50 STORM_RUNS=1).
 * STORM_DUMP=<dir> keeps each run's raw worker reports (JSON), STORM_CPU_PROF=<dir> a CPU profile of
 * each worker's storm (from 'go' to its last call resolving), and STORM_AUTOPIPELINE=1 turns on ioredis's autopipelining in the workers' clients.
 * STORM_FLOOR=1 (Redis) makes every worker but the first a bare subscriber, the floor a waiter's
 * wake-up can have on this machine (see `WorkerConfig.bare`); STORM_NODE_ARGS adds node flags to the
 * workers (e.g. `--trace-gc`). STORM_PREPARE=0 has the PostgreSQL store send its lone read as text
 * (`prepare: false`); STORM_GAPS=1 adds to STORM_DUMP each worker's event-loop gaps of 8 ms or more.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRotator } from '../packages/rotator/src/manager.js';
import { createFakeSlack, type FakeSlack } from '../packages/rotator/src/testing/fake-slack.js';
import { machineBusyMs } from './measure.js';
import { analyze, type StormAnalysis } from './storm-analyze.js';
import { type OpenedStore, openStore, prepareBackend } from './storm-backends.js';
import { type ColdResult, measureCold } from './storm-cold.js';
import { printReport } from './storm-report.js';
import {
  type BackendKind,
  type ChainEntry,
  createClock,
  median,
  type ParentMessage,
  type WorkerConfig,
  type WorkerLoad,
  type WorkerMessage,
} from './storm-shared.js';

const PROCESSES = Number(process.env.STORM_PROCESSES ?? 8);
/** STORM_FLOOR=1: on Redis, every worker but the first is a bare subscriber (see `WorkerConfig.bare`). */
const FLOOR = process.env.STORM_FLOOR === '1';
const CHAINS = Number(process.env.STORM_CHAINS ?? 1_000);
const RUNS = Number(process.env.STORM_RUNS ?? 3);
const COLD_SAMPLES = Number(process.env.STORM_COLD_SAMPLES ?? 2_000);
/** A light storm run beside each full one: the wake-up mechanism when nothing is saturated. */
const CALM_CHAINS = Number(process.env.STORM_CALM_CHAINS ?? 10);
/** Which backends to run (comma-separated): both by default. */
const BACKENDS = (process.env.STORM_BACKENDS ?? 'postgres,redis').split(',');
const SLACK_LATENCY_MS = 50;
const LOCK_RECHECK_MS = 10_000;
/** Per worker: 8 × 6 = 48 connections, leaving room on the shared server (max_connections 100). */
const POOL_MAX = Number(process.env.STORM_POOL_MAX ?? 6);
/** Every token was issued 13 h ago: Slack's 12 h tokens expired an hour ago, all of them. */
const ISSUED_AGO_MS = 13 * 3_600_000;
const RUN_TIMEOUT_MS = 5 * 60_000;
/**
 * Each run's processes go through a storm of their own chains first, then the measured one:
 * STORM_FIRST=0 measures the first storm alone.
 */
const FIRST = process.env.STORM_FIRST !== '0';
/**
 * Between the two storms, as between two storms in production, the processes idle (ms): longer than
 * the PostgreSQL lock keeps its listening connection after the last wait (5 s), so the measured storm
 * starts as one does hours after the last, with that connection given back. (Until session 9 it was
 * 1 s, and the measured storm found the connection still listening.)
 */
const SETTLE_MS = Number(process.env.STORM_SETTLE_MS ?? 6_000);

const workerScript = fileURLToPath(new URL('./storm-worker.ts', import.meta.url));
const clock = createClock();

/** What one storm measured. */
export interface PhaseResult {
  refreshCalls: number;
  duplicates: number;
  forks: number;
  lockouts: number;
  /** Chains whose stored access token is not the one served. */
  storedMismatch: number;
  analysis: StormAnalysis;
  /** CPU time of the 8 workers and of this process (the fake Slack) during the storm (ms). */
  workersCpuMs: number;
  parentCpuMs: number;
  /** CPU time of every other process meanwhile (ms): the database server, mostly. */
  otherCpuMs: number;
  /** How busy the machine's cores were from 'go' until the last worker reported (0–1, every process). */
  machineBusy: number;
  /** Workers' event-loop delay during the storm: the median of their p99s, and the largest max (ms). */
  loopDelayP99: number;
  loopDelayMax: number;
  /** Workers' garbage collection during the storm: the median of their pauses' sums, the longest pause (ms). */
  gcMs: number;
  gcMaxMs: number;
}

/** One run of one backend: the measured storm, after the processes' first one (unless STORM_FIRST=0). */
export interface RunResult extends PhaseResult {
  kind: BackendKind;
  run: number;
  chains: number;
  /** The processes' first storm, on chains of its own (see `WorkerConfig.firstTeams`). */
  first: PhaseResult | undefined;
  /** Absent for the calm runs. */
  cold: ColdResult | undefined;
  totalMs: number;
}

interface WorkerResult {
  entries: ChainEntry[];
  load: WorkerLoad;
  warnings: string[];
}

/** Process warnings of the workers, each kind once with how many workers of which runs printed it. */
const warned = new Map<string, Set<string>>();

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

interface Worker {
  child: ChildProcess;
  /** The worker's next 'ready' (it waits for 'go'); rejects once it failed or exited. */
  ready(): Promise<void>;
  /** The worker's next result; rejects once it failed or exited. */
  result(): Promise<WorkerResult>;
  exited: Promise<void>;
}

function startWorker(config: WorkerConfig): Worker {
  const child = fork(workerScript, [], {
    execArgv: [
      '--import',
      'tsx',
      '--no-warnings',
      ...(process.env.STORM_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    env: { ...process.env, STORM_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Messages not yet asked for, and askers not yet answered, of each kind.
  type Kind = 'ready' | 'result';
  const arrived: Record<Kind, WorkerMessage[]> = { ready: [], result: [] };
  const asking: Record<Kind, Array<{ resolve: (m: WorkerMessage) => void; reject: (e: Error) => void }>> = {
    ready: [],
    result: [],
  };
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const kind of ['ready', 'result'] as const) {
      for (const { reject } of asking[kind].splice(0)) reject(failure);
    }
  };
  const next = (kind: Kind) =>
    new Promise<WorkerMessage>((resolve, reject) => {
      const message = arrived[kind].shift();
      if (message !== undefined) resolve(message);
      else if (failure !== undefined) reject(failure);
      else asking[kind].push({ resolve, reject });
    });
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'failed') {
      fail(new Error(`${config.name} failed: ${message.message}`));
      return;
    }
    const waiting = asking[message.type].shift();
    if (waiting !== undefined) waiting.resolve(message);
    else arrived[message.type].push(message);
  });
  // 'close', not 'exit': a message sent just before exiting is delivered before the channel closes.
  child.once('close', (code) => fail(new Error(`${config.name} exited (${code}) before reporting`)));
  return {
    child,
    ready: () => next('ready').then(() => undefined),
    result: () => next('result') as Promise<WorkerResult>,
    exited,
  };
}

/** What one storm of a run measured (a run is the processes' first storm, then the measured one). */
async function measurePhase(
  parent: OpenedStore,
  slack: FakeSlack,
  workers: Worker[],
  teams: string[],
  kind: BackendKind,
  label: string,
): Promise<PhaseResult> {
  const callsBefore = slack.calls.length;
  const forksBefore = forkCount(slack);
  await timeout(Promise.all(workers.map((w) => w.ready())), 60_000, 'workers ready');
  // One start instant for all: each worker sleeps, then spins, until it.
  const goAt = clock() + 300;
  const go: ParentMessage = { type: 'go', at: goAt };
  for (const worker of workers) worker.child.send(go);
  const parentCpu = process.cpuUsage();
  // The machine's busy time from 'go' on (the workers spin for the last few ms before it).
  let machineBefore = machineBusyMs();
  setTimeout(() => {
    machineBefore = machineBusyMs();
  }, goAt - clock());
  const finished = await timeout(
    Promise.all(workers.map((w) => w.result())),
    RUN_TIMEOUT_MS,
    `${kind} storm`,
  );
  const parentUsed = process.cpuUsage(parentCpu);
  const machineUsedMs = machineBusyMs() - machineBefore;
  const wallMs = clock() - goAt;
  const results = finished.map((f) => f.entries);
  const loads = finished.map((f) => f.load);
  const workersCpuMs = loads.reduce((sum, load) => sum + load.cpuMs, 0);
  finished.forEach((f, w) => {
    for (const warning of new Set(f.warnings)) {
      warned.set(warning, (warned.get(warning) ?? new Set()).add(`${label} w${w}`));
    }
  });
  const calls = slack.calls.slice(callsBefore);
  if (process.env.STORM_DUMP) {
    // STORM_DUMP=<dir>: what each worker reported, raw, to study one run's timeline.
    await mkdir(process.env.STORM_DUMP, { recursive: true });
    await writeFile(
      path.join(process.env.STORM_DUMP, `${label.replaceAll(' ', '-')}.json`),
      JSON.stringify({
        goAt,
        results,
        loads,
        // When the fake Slack answered each refresh (its clock, epoch ms): the commits' source.
        slackAnsweredAt: calls.filter((c) => c.grantType === 'refresh_token').map((c) => c.at),
      }),
    );
  }
  const analysis = analyze(results, goAt, LOCK_RECHECK_MS);

  const served = new Map<string, string | undefined>();
  for (const entry of results[0] ?? []) served.set(entry.teamId, entry.tokenHash);
  let lockouts = 0;
  let storedMismatch = 0;
  for (const teamId of teams) {
    const record = await parent.store.get(`${slack.clientId}:${teamId}:bot`);
    if (
      record === undefined ||
      record.status !== 'active' ||
      slack.peekRefreshToken(record.refreshToken) !== 'active'
    ) {
      lockouts++;
      continue;
    }
    const hash = createHash('sha256').update(record.accessToken).digest('hex').slice(0, 16);
    if (hash !== served.get(teamId)) storedMismatch++;
  }
  const refreshes = calls.filter((c) => c.grantType === 'refresh_token');
  return {
    refreshCalls: refreshes.length,
    duplicates: refreshes.filter((c) => c.duplicate).length,
    forks: forkCount(slack) - forksBefore,
    lockouts,
    storedMismatch,
    analysis,
    workersCpuMs,
    parentCpuMs: (parentUsed.user + parentUsed.system) / 1000,
    // The machine's busy time less the workers' and this process's: the database server, mostly.
    otherCpuMs: machineUsedMs - workersCpuMs - (parentUsed.user + parentUsed.system) / 1000,
    machineBusy: machineUsedMs / (wallMs * availableParallelism()),
    loopDelayP99: median(loads.map((load) => load.loopDelayP99)),
    loopDelayMax: Math.max(...loads.map((load) => load.loopDelayMax)),
    gcMs: median(loads.map((load) => load.gcMs)),
    gcMaxMs: Math.max(...loads.map((load) => load.gcMaxMs)),
  };
}

const forkCount = (slack: FakeSlack) => slack.chains().reduce((sum, chain) => sum + chain.forks, 0);

async function runStorm(kind: BackendKind, run: number, chains: number): Promise<RunResult> {
  const started = clock();
  const slack = await createFakeSlack({ latencyMs: SLACK_LATENCY_MS, seed: run });
  const backend = await prepareBackend(kind);
  const workers: Worker[] = [];
  try {
    const parent = await openStore(backend.config, {
      name: 'slack-rotator-bench-parent',
      poolMax: 2,
      lockRecheckMs: LOCK_RECHECK_MS,
    });
    const teamsOf = (prefix: string) =>
      Array.from({ length: chains }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
    const teams = teamsOf('T');
    const firstTeams = FIRST ? teamsOf('F') : undefined;
    const warmTeam = 'TWARM';
    const credentials = { clientId: slack.clientId, clientSecret: slack.clientSecret };
    const installer = createRotator({ ...credentials, store: parent.store, slackApiUrl: slack.url });
    const issuedAt = Date.now() - ISSUED_AGO_MS;
    const expired = [...(firstTeams ?? []), ...teams];
    for (let i = 0; i < expired.length; i += 50) {
      await Promise.all(
        expired
          .slice(i, i + 50)
          .map((teamId) => installer.saveInstallation(slack.install({ teamId }), { issuedAt })),
      );
    }
    await installer.saveInstallation(slack.install({ teamId: warmTeam }));
    await installer.close();

    for (let w = 0; w < PROCESSES; w++) {
      workers.push(
        startWorker({
          backend: backend.config,
          name: `slack-rotator-bench-w${w}`,
          slackUrl: slack.url,
          ...credentials,
          teams,
          ...(firstTeams === undefined ? {} : { firstTeams }),
          warmTeam,
          poolMax: POOL_MAX,
          lockRecheckMs: LOCK_RECHECK_MS,
          ...(FLOOR && kind === 'redis' && w > 0 ? { bare: true } : {}),
        }),
      );
    }
    let first: PhaseResult | undefined;
    if (firstTeams !== undefined) {
      first = await measurePhase(parent, slack, workers, firstTeams, kind, `${kind}-${chains}-${run}-first`);
      // Idle a while, as a process between two storms would: what V8 compiled is in place.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    }
    const measured = await measurePhase(parent, slack, workers, teams, kind, `${kind}-${chains}-${run}`);
    await Promise.all(workers.map((w) => w.exited));
    const cold =
      chains < CHAINS
        ? undefined
        : await measureCold(parent, { ...credentials, slackUrl: slack.url, teams, samples: COLD_SAMPLES });
    await parent.close();
    return { kind, run, chains, ...measured, first, cold, totalMs: clock() - started };
  } finally {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await slack.close();
    await backend.dispose();
  }
}

async function main(): Promise<void> {
  const started = clock();
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  const machine = `node ${process.version} · ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown CPU'})`;
  process.stdout.write(
    `${machine} · load ${load()}\n` +
      `${PROCESSES} processes × ${CHAINS.toLocaleString('en-US')} expired chains, Slack latency ${SLACK_LATENCY_MS} ms (no faults), ` +
      `lock recheck ${LOCK_RECHECK_MS / 1000} s, pg pool max ${POOL_MAX}/process; ${RUNS} runs per backend, interleaved\n\n`,
  );
  const results: RunResult[] = [];
  const calm: RunResult[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const order: BackendKind[] = run % 2 === 1 ? ['postgres', 'redis'] : ['redis', 'postgres'];
    for (const kind of order.filter((k) => BACKENDS.includes(k))) {
      for (const chains of CALM_CHAINS > 0 ? [CALM_CHAINS, CHAINS] : [CHAINS]) {
        const result = await runStorm(kind, run, chains);
        (chains === CHAINS ? results : calm).push(result);
        const a = result.analysis;
        process.stderr.write(
          `run ${run} ${kind} ${PROCESSES}×${chains}: ${(result.totalMs / 1000).toFixed(1)} s; ` +
            `refresh calls ${result.refreshCalls}, caller wait p99 ${a.callerWait.p99.toFixed(0)} ms, ` +
            `wake-up p99 ${a.wake.p99.toFixed(1)} ms (load ${load()})\n`,
        );
      }
    }
  }
  printReport(results, calm, { processes: PROCESSES, chains: CHAINS, calmChains: CALM_CHAINS });
  for (const [warning, where] of warned) {
    process.stdout.write(`worker warning (${where.size} worker runs): ${warning}\n`);
  }
  process.stdout.write(`\nload ${load()} · total ${((clock() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

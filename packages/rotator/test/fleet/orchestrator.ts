import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRotatorError } from '../../src/errors.js';
import { createRotator } from '../../src/manager.js';
import { createFakeSlack, type FakeSlack, type FaultRates } from '../../src/testing/fake-slack.js';
import { mulberry32 } from '../../src/testing/fake-slack-faults.js';
import { type BackendKind, prepareBackend } from './backends.js';
import type { WorkerConfig, WorkerSummary } from './config.js';
import { openStore } from './open-store.js';

const workerScript = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** A fault the orchestrator applies to the fleet itself (Slack's faults are the fake's). */
export type FleetFault = 'kill9' | 'stop' | 'pg_terminate' | 'redis_restart';

export interface FleetOptions {
  backend: BackendKind;
  processes: number;
  teams: number;
  durationMs: number;
  /** Compressed token lifetime; every other duration is scaled from it. */
  lifetimeMs: number;
  seed: number;
  /** Which sibling Slack keeps after a double exchange (the fake's policy; named in the report). */
  survivor: 'first' | 'last';
  slackFaults?: FaultRates;
  /** Faults applied to the processes and servers, one every `everyMs` (seeded). */
  faults?: { everyMs: number; kinds: FleetFault[] };
  /** Clock skew of each worker (ms); missing entries are 0. */
  skewsMs?: number[];
}

/** What a fleet run measured. Every count is over the whole run. */
export interface FleetReport {
  seed: number;
  policy: string;
  schedule: string[];
  rotations: number;
  refreshCalls: number;
  /** A replaced refresh token that reappeared in the store later (must be 0). */
  staleWrites: number;
  /** Chains dead at Slack whose cause was recorded as `lost_rotation` (detected). */
  lostRotationsDetected: number;
  /** Chains dead at Slack and not detected as lost rotations: lockouts by us (must be 0). */
  lockoutsByUs: string[];
  /** Chains that could not be checked at the end (a transient failure). */
  unverified: string[];
  workers: WorkerSummary[];
}

interface Incarnation {
  child: ChildProcess;
  summary: Promise<WorkerSummary | undefined>;
  stopped: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function start(config: WorkerConfig): Incarnation {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: { ...process.env, FLEET_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr?.on('data', () => {});
  const summary = new Promise<WorkerSummary | undefined>((resolve) => {
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('SUMMARY '));
      resolve(line === undefined ? undefined : (JSON.parse(line.slice(8)) as WorkerSummary));
    });
  });
  return { child, summary, stopped: false };
}

/**
 * Runs K worker processes × M chains on one backend against a fake Slack with compressed time,
 * applies seeded faults, then checks invariants (not timings) and reports them.
 */
export async function runFaultFleet(options: FleetOptions): Promise<FleetReport> {
  const random = mulberry32(options.seed);
  const graceMs = Math.max(200, options.lifetimeMs / 3);
  const slack = await createFakeSlack({
    expiresInSeconds: Math.max(1, Math.round(options.lifetimeMs / 1000)),
    accessTokenLifetimeMs: options.lifetimeMs,
    refreshGraceMs: graceMs,
    siblingSurvivor: options.survivor,
    latencyMs: { min: 5, max: 40 },
    seed: options.seed,
    ...(options.slackFaults === undefined ? {} : { faults: options.slackFaults }),
  });
  const backend = await prepareBackend(options.backend, `fleet_${options.seed}_${process.pid}`);
  const schedule: string[] = [];
  const runId = `fleet-${options.seed}-${process.pid}`;
  const teams = Array.from({ length: options.teams }, (_, i) => `T${i + 1}`);
  const workers: Incarnation[] = [];
  const summaries: WorkerSummary[] = [];
  const audit = new Map<string, { version: number; seen: Set<string>; current: string }>();
  let staleWrites = 0;
  try {
    const parent = await openStore(backend.config, `${runId}-parent`);
    const installer = createRotator({
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      store: parent.store,
      slackApiUrl: slack.url,
    });
    for (const teamId of teams) await installer.saveInstallation(slack.install({ teamId }));
    await installer.close();

    const configFor = (i: number, incarnation: number): WorkerConfig => ({
      backend: backend.config,
      slackUrl: slack.url,
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      teams,
      lifetimeMs: options.lifetimeMs,
      skewMs: options.skewsMs?.[i] ?? 0,
      lockTtlMs: Math.max(300, options.lifetimeMs / 8),
      requestTimeoutMs: Math.max(200, options.lifetimeMs / 20),
      name: `${runId}-w${i}-${incarnation}`,
    });
    const incarnations = Array.from({ length: options.processes }, () => 0);
    for (let i = 0; i < options.processes; i++) workers.push(start(configFor(i, 0)));

    // The auditor: a replaced refresh token must never come back (a stale write).
    const chainKeys = teams.map((t) => `${slack.clientId}:${t}:bot`);
    let auditing = true;
    const auditor = (async () => {
      while (auditing) {
        for (const chainKey of chainKeys) {
          const record = await parent.store.get(chainKey).catch(() => undefined);
          if (record === undefined) continue;
          const seen = audit.get(chainKey) ?? { version: 0, seen: new Set<string>(), current: '' };
          if (record.version > seen.version && record.refreshToken !== seen.current) {
            if (seen.seen.has(record.refreshToken)) staleWrites++;
            if (seen.current !== '') seen.seen.add(seen.current);
            seen.current = record.refreshToken;
          }
          seen.version = Math.max(seen.version, record.version);
          audit.set(chainKey, seen);
        }
        await sleep(25);
      }
    })();

    const deadline = Date.now() + options.durationMs;
    const at = () => `+${options.durationMs - (deadline - Date.now())}ms`;
    while (Date.now() < deadline) {
      const faults = options.faults;
      await sleep(faults === undefined ? 200 : faults.everyMs * (0.5 + random()));
      if (faults === undefined || Date.now() >= deadline || faults.kinds.length === 0) continue;
      const kind = faults.kinds[Math.floor(random() * faults.kinds.length)] as FleetFault;
      const index = Math.floor(random() * workers.length);
      const worker = workers[index] as Incarnation;
      switch (kind) {
        case 'kill9': {
          schedule.push(`${at()} kill -9 w${index}`);
          worker.child.kill('SIGKILL');
          await worker.summary;
          incarnations[index] = (incarnations[index] as number) + 1;
          workers[index] = start(configFor(index, incarnations[index] as number));
          break;
        }
        case 'stop': {
          const pauseMs = Math.max(300, options.lifetimeMs / 8) * 2;
          schedule.push(`${at()} SIGSTOP w${index} for ${pauseMs}ms (past its lease)`);
          worker.child.kill('SIGSTOP');
          worker.stopped = true;
          await sleep(pauseMs);
          worker.child.kill('SIGCONT');
          worker.stopped = false;
          break;
        }
        case 'pg_terminate':
          schedule.push(`${at()} pg_terminate_backend of the workers' connections`);
          await backend.terminateConnections?.(runId);
          break;
        case 'redis_restart':
          schedule.push(`${at()} Redis restarted`);
          await backend.restartRedis?.();
          break;
      }
    }
    for (const worker of workers) {
      if (worker.stopped) worker.child.kill('SIGCONT');
      worker.child.kill('SIGTERM');
    }
    const timeout = setTimeout(() => {
      for (const worker of workers) worker.child.kill('SIGKILL');
    }, 15_000);
    for (const worker of workers) {
      const summary = await worker.summary;
      if (summary !== undefined) summaries.push(summary);
    }
    clearTimeout(timeout);
    auditing = false;
    await auditor;

    // Let every grace period end, then look at each chain as Slack sees it.
    await sleep(graceMs + 300);
    const verifier = createRotator({
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      store: parent.store,
      slackApiUrl: slack.url,
      tokenLifetimeMs: options.lifetimeMs,
      refreshWindowMs: options.lifetimeMs / 3,
      requestTimeoutMs: 2_000,
    });
    let lostRotationsDetected = 0;
    const lockoutsByUs: string[] = [];
    const unverified: string[] = [];
    for (const teamId of teams) {
      try {
        await verifier.refresh({ teamId }, { force: true });
      } catch (error) {
        const record = await parent.store.get(`${slack.clientId}:${teamId}:bot`);
        const cause = record?.lastErrorCode ?? (isRotatorError(error) ? error.code : 'unknown');
        if (record?.status === 'reauthorization_required' && cause === 'lost_rotation')
          lostRotationsDetected++;
        else if (record?.status === 'reauthorization_required') lockoutsByUs.push(`${teamId}: ${cause}`);
        else unverified.push(`${teamId}: ${isRotatorError(error) ? error.code : 'unknown'}`);
      }
    }
    await verifier.close();
    await parent.close();
    const refreshCalls = slack.calls.filter((c) => c.grantType === 'refresh_token').length;
    return {
      seed: options.seed,
      policy: `grace ${graceMs} ms; the ${options.survivor}-issued of two sibling pairs survives`,
      schedule,
      rotations: slack.chains().reduce((sum, chain) => sum + chain.rotations, 0),
      refreshCalls,
      staleWrites,
      lostRotationsDetected,
      lockoutsByUs,
      unverified,
      workers: summaries,
    };
  } finally {
    for (const worker of workers) worker.child.kill('SIGKILL');
    await slack.close();
    await backend.dispose();
  }
}

/** A fake Slack handle, for tests that want to look further. */
export type { FakeSlack };

// One process of the storm: a rotator on the shared backend (the store with its own lock). Warms up,
// says 'ready', waits for 'go' (a start instant shared by every worker), then asks for all of its
// expired chains at once, and reports per chain when its call resolved and what its lock saw.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { isRotatorError } from '../packages/rotator/src/errors.js';
import { refreshLockName } from '../packages/rotator/src/lock/names.js';
import { redisLockChannel } from '../packages/rotator/src/lock/redis.js';
import type { AcquireOptions, Lease, Lock } from '../packages/rotator/src/lock/types.js';
import { createRotator } from '../packages/rotator/src/manager.js';
import type { TokenStore } from '../packages/rotator/src/store/types.js';
import { openStore } from './storm-backends.js';
import {
  type Acquisition,
  type ChainEntry,
  createClock,
  type GcPause,
  type LockCall,
  type LoopGap,
  type ParentMessage,
  type WorkerConfig,
  type WorkerLoad,
  type WorkerMessage,
} from './storm-shared.js';

const config = JSON.parse(process.env.STORM_CONFIG ?? '{}') as WorkerConfig;
const clock = createClock();
const send = (message: WorkerMessage) =>
  new Promise<void>((resolve, reject) => {
    process.send?.(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });

// Started with --no-warnings: each process warning is reported to the parent, which prints each kind once.
const warnings: string[] = [];
process.on('warning', (warning) => warnings.push(`${warning.name}: ${warning.message}`));

const teamOf = (chainKey: string) => chainKey.split(':')[1] ?? '';
const acquisitions = new Map<string, Acquisition[]>();
const lockCalls = new Map<string, LockCall[]>();
const commits = new Map<
  string,
  { casSentAt: number; committedAt?: number; serverCommittedAt: number | undefined }
>();
/** The server's clock of each chain's last matched compare-and-set (see `openStore`'s `onCommit`). */
const serverCommits = new Map<string, number>();
const waitReturns = new Map<string, number>();

/**
 * The store's own lock, timed: changes nothing (any other method is the lock's own) but records when
 * each acquire was called and settled, and when each lease was released.
 */
function timed(lock: Lock): Lock {
  const byOwner = new Map<string, Acquisition>();
  return {
    ...lock,
    async acquire(name: string, options: AcquireOptions): Promise<Lease> {
      const calledAt = clock();
      const team = teamOf(name.slice('refresh:'.length));
      const seen: Acquisition = { calledAt, settledAt: Number.NaN, taken: false };
      acquisitions.set(team, [...(acquisitions.get(team) ?? []), seen]);
      try {
        const lease = await lock.acquire(name, options);
        seen.taken = true;
        byOwner.set(lease.owner, seen);
        return lease;
      } finally {
        seen.settledAt = clock();
      }
    },
    ...(lock.wait === undefined
      ? {}
      : {
          async wait(name: string, options: { waitMs: number; signal?: AbortSignal }): Promise<void> {
            const wait = lock.wait?.bind(lock);
            try {
              await wait?.(name, options);
            } finally {
              waitReturns.set(teamOf(name.slice('refresh:'.length)), clock());
            }
          },
        }),
    async release(lease: Lease): Promise<void> {
      await lock.release(lease);
      const seen = byOwner.get(lease.owner);
      if (seen !== undefined) seen.releasedAt = clock();
      byOwner.delete(lease.owner);
    },
  };
}

/** The store, with the send time of each CAS that stores a new pair recorded. */
function timedStore(store: TokenStore): TokenStore {
  return {
    ...store,
    async compareAndSet(chainKey, expectedVersion, update, options) {
      const casSentAt = clock();
      const stored = await store.compareAndSet(chainKey, expectedVersion, update, options);
      if (stored !== undefined && update.accessToken !== undefined) {
        commits.set(chainKey, { casSentAt, serverCommittedAt: serverCommits.get(chainKey) });
      }
      return stored;
    },
  };
}

/**
 * STORM_CPU_PROF=<dir>: profiles the storm alone (not start-up, warm-up or the report), one
 * `.cpuprofile` per worker. Returns what stops it and writes the file, or undefined when not asked.
 */
async function startProfile(): Promise<(() => Promise<void>) | undefined> {
  const dir = process.env.STORM_CPU_PROF;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${config.name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}

/** The start instant from the parent: sleeps, then spins the last milliseconds, so all start within one. */
async function startTogether(): Promise<void> {
  const go = new Promise<number>((resolve) => {
    process.once('message', (message: ParentMessage) => resolve(message.at));
  });
  await send({ type: 'ready' });
  const at = await go;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - clock() - 3)));
  while (clock() < at) {
    // spin
  }
}

/**
 * Starts the calls with the other workers (see `startTogether`) and returns what they gave, with how
 * busy this process was from the start until the last one settled (profiled if asked).
 */
async function storm(
  calls: () => Promise<ChainEntry[]>,
): Promise<{ entries: ChainEntry[]; load: WorkerLoad }> {
  const profiling = await startProfile();
  await startTogether();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // Garbage collection stops the event loop too: a pause is a wake-up that waits.
  const pauses: GcPause[] = [];
  const toEpoch = clock() - performance.now();
  const note = (entries: PerformanceEntry[]) => {
    for (const entry of entries) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0;
      pauses.push({ at: toEpoch + entry.startTime, ms: entry.duration, kind });
    }
  };
  const gc = new PerformanceObserver((list) => note(list.getEntries()));
  gc.observe({ entryTypes: ['gc'] });
  // STORM_GAPS=1: every stretch of 8 ms or more the event loop could not run a 1 ms timer, with the
  // CPU time this process used in it (all of it: the process was busy; little: it waited for a core).
  const gaps: LoopGap[] = [];
  let lastTick = performance.now();
  let lastCpu = process.cpuUsage();
  const ticker = process.env.STORM_GAPS
    ? setInterval(() => {
        const at = performance.now();
        if (at - lastTick >= 8) {
          const used = process.cpuUsage(lastCpu);
          gaps.push({ at: toEpoch + lastTick, ms: at - lastTick, cpuMs: (used.user + used.system) / 1000 });
        }
        lastTick = at;
        lastCpu = process.cpuUsage();
      }, 1)
    : undefined;
  const cpu = process.cpuUsage();
  const entries = await calls();
  clearInterval(ticker);
  loop.disable();
  const used = process.cpuUsage(cpu);
  note(gc.takeRecords());
  gc.disconnect();
  await profiling?.();
  return {
    entries,
    load: {
      cpuMs: (used.user + used.system) / 1000,
      loopDelayP99: loop.percentile(99) / 1e6,
      loopDelayMax: loop.max / 1e6,
      gcMs: pauses.reduce((sum, pause) => sum + pause.ms, 0),
      gcMaxMs: Math.max(0, ...pauses.map((pause) => pause.ms)),
      gcPauses: pauses,
      gaps,
    },
  };
}

/**
 * The floor of a waiter (`WorkerConfig.bare`): per chain, what a waiter sends (the record's read, a
 * look at the lock) on a bare ioredis client, then the commit's message on a bare subscriber; the
 * call resolves with the token that message carries. No rotator, no lock code, no checks.
 */
async function bareMain(): Promise<void> {
  if (config.backend.kind !== 'redis') throw new Error('the floor is Redis only');
  const { prefix, url } = config.backend;
  const client = new Redis(url);
  const subscriber = new Redis(url);
  const wakes = new Map<string, (record: string) => void>();
  subscriber.on('message', (_channel: string, message: string) => {
    const cut = message.indexOf('\n');
    if (cut < 0) return;
    const name = message.slice(0, cut);
    wakes.get(name)?.(message.slice(cut + 1));
    wakes.delete(name);
  });
  await subscriber.subscribe(redisLockChannel(prefix));
  await client.hgetall(`${prefix}:chain:{${config.clientId}:${config.warmTeam}:bot}`);
  const { entries, load } = await storm(() =>
    Promise.all(
      config.teams.map(async (teamId): Promise<ChainEntry> => {
        const chainKey = `${config.clientId}:${teamId}:bot`;
        const name = refreshLockName(chainKey);
        const woken = new Promise<string>((resolve) => wakes.set(name, resolve));
        await client.hgetall(`${prefix}:chain:{${chainKey}}`);
        // Its look at the lock stands for a waiter's failed try, so the report counts it as a waiter.
        const look: Acquisition = { calledAt: clock(), settledAt: Number.NaN, taken: false };
        await client.pttl(`${prefix}:lock:{${name}}`);
        look.settledAt = clock();
        const record = JSON.parse(await woken) as { accessToken: string };
        const resolvedAt = clock();
        waitReturns.set(teamId, resolvedAt);
        const tokenHash = createHash('sha256').update(record.accessToken).digest('hex').slice(0, 16);
        return {
          teamId,
          resolvedAt,
          tokenHash,
          waitReturnedAt: resolvedAt,
          acquisitions: [look],
          lockCalls: [],
        };
      }),
    ),
  );
  await send({ type: 'result', name: config.name, phase: 0, entries, load, warnings });
  client.disconnect();
  subscriber.disconnect();
}

async function main(): Promise<void> {
  const opened = await openStore(config.backend, {
    name: config.name,
    poolMax: config.poolMax,
    lockRecheckMs: config.lockRecheckMs,
    onCommit(chainKey, serverMs) {
      serverCommits.set(chainKey, serverMs);
    },
    onLockCall(name) {
      const team = teamOf(name.slice('refresh:'.length));
      const call: LockCall = { sentAt: clock(), answeredAt: Number.NaN };
      lockCalls.set(team, [...(lockCalls.get(team) ?? []), call]);
      return () => {
        call.answeredAt = clock();
      };
    },
  });
  const rotator = createRotator({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    store: timedStore(opened.store),
    lock: timed(opened.lock),
    slackApiUrl: config.slackUrl,
  });
  rotator.on('refreshed', (event) => {
    const commit = commits.get(event.chainKey);
    if (commit !== undefined) commit.committedAt = clock();
  });

  // A running process: its connections open, its code paths (store read, fetch) warm.
  await opened.warm();
  await rotator.getToken({ teamId: config.warmTeam });
  await fetch(`${config.slackUrl}api.test`, { method: 'POST' }).then((response) => response.arrayBuffer());

  const phases = [...(config.firstTeams === undefined ? [] : [config.firstTeams]), config.teams];
  for (const [phase, teams] of phases.entries()) {
    const { entries, load } = await storm(() =>
      Promise.all(
        teams.map(async (teamId): Promise<ChainEntry> => {
          try {
            const token = await rotator.getToken({ teamId });
            const resolvedAt = clock();
            const tokenHash = createHash('sha256').update(token).digest('hex').slice(0, 16);
            return { teamId, resolvedAt, tokenHash, acquisitions: [], lockCalls: [] };
          } catch (caught) {
            const resolvedAt = clock();
            const error = isRotatorError(caught) ? caught.code : String(caught);
            return { teamId, resolvedAt, error, acquisitions: [], lockCalls: [] };
          }
        }),
      ),
    );
    for (const entry of entries) {
      entry.acquisitions = acquisitions.get(entry.teamId) ?? [];
      entry.lockCalls = lockCalls.get(entry.teamId) ?? [];
      const waited = waitReturns.get(entry.teamId);
      if (waited !== undefined) entry.waitReturnedAt = waited;
      const commit = commits.get(`${config.clientId}:${entry.teamId}:bot`);
      if (commit?.committedAt !== undefined) {
        entry.committedAt = commit.committedAt;
        entry.casSentAt = commit.casSentAt;
        if (commit.serverCommittedAt !== undefined) entry.serverCommittedAt = commit.serverCommittedAt;
      }
    }
    await send({ type: 'result', name: config.name, phase, entries, load, warnings });
  }
  await rotator.close();
  await opened.close();
}

(config.bare ? bareMain() : main()).then(
  () => process.exit(0),
  async (error: unknown) => {
    await send({
      type: 'failed',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    }).catch(() => {});
    process.exit(1);
  },
);

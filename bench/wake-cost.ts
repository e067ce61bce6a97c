/**
 * What one woken waiter costs the process it waits in: the storm's wake-up tail is processes working
 * through bursts of commits, so the CPU each wake-up takes is what the tail is made of.
 *
 * One waiting process asks for N due chains whose locks this (parent) process holds; every call finds
 * its lock held and waits. The parent then commits new pairs for all of them, B at a time, and
 * releases each lock. The waiter reports its CPU time from the first commit to its last call
 * resolving (per woken call) and how long after each commit its call resolved. WAKE_PROF=<dir>
 * writes a CPU profile of the waiter from the first commit on; WAKE_BARE=1 (Redis) makes the waiter a
 * bare ioredis subscriber, the floor.
 *
 *   npx tsx bench/wake-cost.ts            WAKE_BACKENDS=redis,postgres WAKE_CHAINS=1000 WAKE_BURST=100 WAKE_RUNS=3
 */
import { fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { refreshLockName } from '../packages/rotator/src/lock/names.js';
import { redisLockChannel } from '../packages/rotator/src/lock/redis.js';
import type { Lease } from '../packages/rotator/src/lock/types.js';
import { createRotator } from '../packages/rotator/src/manager.js';
import { createFakeSlack } from '../packages/rotator/src/testing/fake-slack.js';
import { openStore, prepareBackend } from './storm-backends.js';
import { type BackendKind, quantile, type StormBackend } from './storm-shared.js';

interface WaiterConfig {
  backend: StormBackend;
  clientId: string;
  clientSecret: string;
  slackUrl: string;
  teams: string[];
}
type FromWaiter =
  | { type: 'waiting' }
  | { type: 'result'; cpuUs: number; resolvedAt: Record<string, number>; failed: number };

const clock = () => performance.timeOrigin + performance.now();

/**
 * The floor, on Redis: the same commit and release messages heard by a bare ioredis subscriber, one
 * promise per chain resolved by its first message. What the rotator adds is the difference.
 */
async function bareWaiter(config: WaiterConfig): Promise<void> {
  if (config.backend.kind !== 'redis') throw new Error('the bare waiter is Redis only');
  const subscriber = new Redis(config.backend.url);
  await subscriber.subscribe(redisLockChannel(config.backend.prefix));
  const wakes = new Map<string, () => void>();
  subscriber.on('message', (_channel: string, message: string) => {
    const cut = message.indexOf('\n');
    const name = cut < 0 ? message : message.slice(0, cut);
    wakes.get(name)?.();
    wakes.delete(name);
  });
  const resolvedAt: Record<string, number> = {};
  let cpu: NodeJS.CpuUsage | undefined;
  const calls = Promise.all(
    config.teams.map(
      (teamId) =>
        new Promise<void>((resolve) => {
          wakes.set(refreshLockName(`${config.clientId}:${teamId}:bot`), () => {
            cpu ??= process.cpuUsage();
            resolvedAt[teamId] = clock();
            resolve();
          });
        }),
    ),
  );
  process.send?.({ type: 'waiting' } satisfies FromWaiter);
  await calls;
  const used = process.cpuUsage(cpu);
  process.send?.({
    type: 'result',
    cpuUs: used.user + used.system,
    resolvedAt,
    failed: 0,
  } satisfies FromWaiter);
  subscriber.disconnect();
}

async function waiter(config: WaiterConfig): Promise<void> {
  const opened = await openStore(config.backend, {
    name: 'wake-cost-waiter',
    poolMax: 4,
    lockRecheckMs: 30_000,
  });
  const rotator = createRotator({
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    store: opened.store,
    lock: opened.lock,
    slackApiUrl: config.slackUrl,
  });
  await opened.warm();
  const resolvedAt: Record<string, number> = {};
  let failed = 0;
  let cpu: NodeJS.CpuUsage | undefined;
  const calls = Promise.all(
    config.teams.map((teamId) =>
      rotator.getToken({ teamId }).then(
        () => {
          cpu ??= process.cpuUsage();
          resolvedAt[teamId] = clock();
        },
        () => {
          failed++;
        },
      ),
    ),
  );
  // Every call has found its lock held and waits (the parent holds them all) once the loop is idle.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const session = process.env.WAKE_PROF ? new Session() : undefined;
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 50 });
    await session.post('Profiler.start');
  }
  process.send?.({ type: 'waiting' } satisfies FromWaiter);
  await calls;
  const used = process.cpuUsage(cpu);
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(`${process.env.WAKE_PROF}/waiter-${process.pid}.cpuprofile`, JSON.stringify(profile));
  }
  process.send?.({ type: 'result', cpuUs: used.user + used.system, resolvedAt, failed } satisfies FromWaiter);
  await rotator.close();
  await opened.close();
}

async function run(kind: BackendKind, chains: number, burst: number) {
  const slack = await createFakeSlack({ latencyMs: 0 });
  const backend = await prepareBackend(kind);
  try {
    const parent = await openStore(backend.config, {
      name: 'wake-cost-parent',
      poolMax: 4,
      lockRecheckMs: 30_000,
    });
    const credentials = { clientId: slack.clientId, clientSecret: slack.clientSecret };
    const installer = createRotator({ ...credentials, store: parent.store, slackApiUrl: slack.url });
    const teams = Array.from({ length: chains }, (_, i) => `T${String(i).padStart(5, '0')}`);
    const keys: string[] = [];
    for (let i = 0; i < teams.length; i += 50) {
      const saved = await Promise.all(
        teams
          .slice(i, i + 50)
          .map((teamId) =>
            installer.saveInstallation(slack.install({ teamId }), { issuedAt: Date.now() - 43_000_000 }),
          ),
      );
      for (const s of saved) keys.push(...s.chains.map((c) => c.chainKey));
    }
    await installer.close();
    const leases = new Map<string, Lease>();
    for (const chainKey of keys) {
      leases.set(
        chainKey,
        await parent.lock.acquire(refreshLockName(chainKey), { ttlMs: 60_000, waitMs: 0 }),
      );
    }
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx', '--no-warnings'],
      env: {
        ...process.env,
        WAKE_WAITER: JSON.stringify({
          backend: backend.config,
          ...credentials,
          slackUrl: slack.url,
          teams,
        } satisfies WaiterConfig),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const messages: FromWaiter[] = [];
    let notify = () => {};
    let exited: number | null | undefined;
    child.on('message', (m: FromWaiter) => {
      messages.push(m);
      notify();
    });
    child.once('exit', (code) => {
      exited = code;
      notify();
    });
    const next = async (type: FromWaiter['type']) => {
      for (;;) {
        const found = messages.find((m) => m.type === type);
        if (found !== undefined) return found;
        if (exited !== undefined)
          throw new Error(`[wake-cost] the waiter exited (code ${exited}) before '${type}'`);
        await new Promise<void>((resolve) => {
          notify = resolve;
        });
      }
    };
    await next('waiting');
    const committedAt = new Map<string, number>();
    const records = await Promise.all(keys.map((k) => parent.store.get(k)));
    for (let i = 0; i < keys.length; i += burst) {
      await Promise.all(
        keys.slice(i, i + burst).map(async (chainKey, j) => {
          const record = records[i + j];
          if (record === undefined) throw new Error('missing record');
          const at = Date.now();
          const lease = leases.get(chainKey) as Lease;
          // As the engine commits: on PostgreSQL the commit also deletes the lease, so its one
          // message wakes the waiters and the release below sends nothing.
          const stored = await parent.store.compareAndSet(
            chainKey,
            record.version,
            {
              accessToken: `xoxe.xoxb-new-${i + j}-${'n'.repeat(120)}`,
              refreshToken: `xoxe-1-new-${i + j}-${'r'.repeat(120)}`,
              expiresAt: at + 43_200_000,
              refreshIntent: null,
              refreshedAt: at,
              updatedAt: at,
            },
            { releasing: lease },
          );
          if (stored === undefined) throw new Error('commit lost');
          committedAt.set(chainKey, clock());
          await parent.lock.release(lease);
        }),
      );
    }
    const result = (await next('result')) as Extract<FromWaiter, { type: 'result' }>;
    const lags = keys.map(
      (k, i) => (result.resolvedAt[teams[i] as string] ?? Number.NaN) - (committedAt.get(k) ?? 0),
    );
    if (exited === undefined) await new Promise((resolve) => child.once('exit', resolve));
    await parent.close();
    return {
      cpuPerWakeUs: result.cpuUs / chains,
      lagP50: quantile(lags, 0.5),
      lagP99: quantile(lags, 0.99),
      failed: result.failed,
    };
  } finally {
    await backend.dispose();
    await slack.close();
  }
}

async function main() {
  const kinds = (process.env.WAKE_BACKENDS ?? 'redis,postgres').split(',') as BackendKind[];
  const chains = Number(process.env.WAKE_CHAINS ?? 1000);
  const burst = Number(process.env.WAKE_BURST ?? 100);
  const runs = Number(process.env.WAKE_RUNS ?? 3);
  for (let r = 1; r <= runs; r++) {
    for (const kind of kinds) {
      const x = await run(kind, chains, burst);
      console.log(
        `${kind} run ${r}: ${chains} waiters woken ${burst} at a time: CPU per woken call ${x.cpuPerWakeUs.toFixed(0)} µs; commit → call resolved p50 ${x.lagP50.toFixed(1)} ms, p99 ${x.lagP99.toFixed(1)} ms; failed ${x.failed}`,
      );
    }
  }
}

if (process.env.WAKE_WAITER) {
  const config = JSON.parse(process.env.WAKE_WAITER) as WaiterConfig;
  (process.env.WAKE_BARE === '1' ? bareWaiter(config) : waiter(config)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

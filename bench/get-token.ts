/**
 * `npm run bench`: cached `getToken` against an awaited no-op and against `@slack/oauth`'s
 * `InstallProvider.authorize()` (memory and file stores). Workloads are interleaved, 5 runs each,
 * medians reported side by side with ratios; then heap per 100k cached chains.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import oauth from '@slack/oauth';
import { createMemoryStore, createRotator } from '../packages/rotator/src/index.js';
import { calibrate, duration, median, quantile, rate, sampleLatency, timeLoop } from './measure.js';
import {
  installAnswer,
  noopWorkload,
  oauthFileWorkload,
  oauthInstallation,
  oauthMemoryWorkload,
  rotatorWorkload,
  type Workload,
} from './workloads.js';

const RUNS = 5;
const SECONDS_PER_RUN = 1;
const LATENCY_SAMPLES = 200_000;
const CHAINS = 100_000;

interface Result {
  workload: Workload;
  calls: number;
  rates: number[];
  p50s: number[];
  p99s: number[];
}

async function throughput(workloads: Workload[]): Promise<Result[]> {
  const results: Result[] = [];
  for (const workload of workloads) {
    const calls = await calibrate(workload.call, SECONDS_PER_RUN);
    results.push({ workload, calls, rates: [], p50s: [], p99s: [] });
  }
  for (let run = 0; run < RUNS; run++) {
    // Interleaved, starting one later each run, so a noisy moment hits every workload alike.
    for (let k = 0; k < results.length; k++) {
      const result = results[(run + k) % results.length] as Result;
      const ns = await timeLoop(result.workload.call, result.calls);
      result.rates.push((result.calls / ns) * 1e9);
      const samples = await sampleLatency(result.workload.call, Math.min(result.calls, LATENCY_SAMPLES));
      result.p50s.push(quantile(samples, 0.5));
      result.p99s.push(quantile(samples, 0.99));
    }
    process.stderr.write(`run ${run + 1}/${RUNS} done\n`);
  }
  return results;
}

function table(results: Result[]): string {
  const floor = median(results[0]?.rates ?? []);
  const rotator = median(results[1]?.rates ?? []);
  const rows = results.map((r) => {
    const m = median(r.rates);
    return [
      r.workload.name,
      rate(m),
      r.rates.map((x) => (x / 1e6).toFixed(2)).join(' '),
      duration(median(r.p50s)),
      duration(median(r.p99s)),
      `${((m / floor) * 100).toFixed(0)} %`,
      `${(rotator / m).toFixed(1)}×`,
    ];
  });
  const header = [
    'workload',
    'calls/s (median)',
    '5 runs (M/s)',
    'p50',
    'p99',
    'of floor',
    'getToken ÷ this',
  ];
  const lines = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  return lines.join('\n');
}

/** heapUsed after full collections. */
function heapUsed(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The heap growth while `fill` builds something, measured while that something is still held. */
async function growth(gc: () => void, fill: () => Promise<unknown>): Promise<number> {
  const before = heapUsed(gc);
  const held = await fill();
  const after = heapUsed(gc);
  retained.push(held);
  return after - before;
}

/** Keeps what {@link growth} measured alive until the next measurement has been taken. */
const retained: unknown[] = [];

async function memory(): Promise<string> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const mb = (bytes: number) =>
    `${(bytes / 2 ** 20).toFixed(1)} MB (${(bytes / CHAINS).toFixed(0)} B per chain)`;
  const options = { clientId: 'bench', clientSecret: 'bench-secret' };

  const store = createMemoryStore();
  const storeBytes = await growth(gc, async () => {
    const saver = createRotator({ ...options, store });
    for (let i = 0; i < CHAINS; i++) await saver.saveInstallation(installAnswer(`T${i}`));
    await saver.close();
    return store;
  });
  // A second rotator on the same store, as in another process: the growth is its cache alone.
  const cacheBytes = await growth(gc, async () => {
    const reader = createRotator({ ...options, store });
    for (let i = 0; i < CHAINS; i++) await reader.getToken({ teamId: `T${i}` });
    return reader;
  });
  retained.length = 0;
  const oauthBytes = await growth(gc, async () => {
    const installations = new oauth.MemoryInstallationStore();
    for (let i = 0; i < CHAINS; i++) await installations.storeInstallation(oauthInstallation(`T${i}`));
    return installations;
  });
  retained.length = 0;
  return [
    `heapUsed growth for ${CHAINS.toLocaleString('en-US')} installations (one bot chain each; tokens ~150 characters, as Slack's):`,
    `  slack-rotator memory store            ${mb(storeBytes)}`,
    `  slack-rotator getToken cache          ${mb(cacheBytes)}`,
    `  @slack/oauth MemoryInstallationStore  ${mb(oauthBytes)}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `node ${process.version} · ${availableParallelism()} CPUs (${cpu}) · load ${loadavg()[0]?.toFixed(2)}\n` +
      `${RUNS} interleaved runs of ~${SECONDS_PER_RUN} s per workload; awaited calls in a loop; ` +
      `p50/p99 of ${LATENCY_SAMPLES.toLocaleString('en-US')} individually timed calls (clock reads included)\n\n`,
  );
  const workloads = [
    await noopWorkload(),
    await rotatorWorkload(),
    await oauthMemoryWorkload(),
    await oauthFileWorkload(),
  ];
  try {
    const results = await throughput(workloads);
    process.stdout.write(`${table(results)}\n\n`);
    const [floor, rotator, memoryStore, fileStore] = results.map((r) => median(r.rates));
    process.stdout.write(
      [
        `getToken ÷ @slack/oauth authorize (MemoryInstallationStore): ${((rotator ?? 0) / (memoryStore ?? 1)).toFixed(1)}× (target ≥ 3×)`,
        `getToken ÷ @slack/oauth authorize (FileInstallationStore):   ${((rotator ?? 0) / (fileStore ?? 1)).toFixed(1)}×`,
        `getToken: ${rate(rotator ?? 0)} (target ≥ 5 M/s), ${(((rotator ?? 0) / (floor ?? 1)) * 100).toFixed(0)} % of the awaited no-op`,
        '',
      ].join('\n'),
    );
  } finally {
    for (const w of workloads) await w.close();
  }
  process.stdout.write(`\n${await memory()}\n\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

/** Timing helpers for the benchmark: awaited loops, per-call latency samples, medians. */
import { readFileSync } from 'node:fs';

/** One awaited call of a workload. */
export type Call = () => Promise<unknown>;

/** Runs `n` awaited calls in a loop; returns the elapsed nanoseconds. */
export async function timeLoop(call: Call, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  return Number(process.hrtime.bigint() - start);
}

/** How many calls take about `seconds`, estimated from a warm-up of about `warmupMs` (which also warms the JIT). */
export async function calibrate(call: Call, seconds: number, warmupMs = 300): Promise<number> {
  let n = 1_000;
  let elapsedNs = 0;
  let total = 0;
  while (elapsedNs < warmupMs * 1e6) {
    elapsedNs += await timeLoop(call, n);
    total += n;
    n *= 2;
  }
  return Math.max(1_000, Math.round((total / elapsedNs) * 1e9 * seconds));
}

/** Times `n` calls one by one (the clock reads are included: see the floor). */
export async function sampleLatency(call: Call, n: number): Promise<Float64Array> {
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await call();
    samples[i] = Number(process.hrtime.bigint() - start);
  }
  return samples.sort();
}

/** The `p`-quantile (0..1) of sorted samples. */
export function quantile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/** `12.3 M/s`, `456 k/s`. */
export function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

/** `85 ns`, `1.2 µs`, `3.4 ms`. */
export function duration(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(0)} µs`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

/** The machine's busy CPU time (ms, all cores) so far, from /proc/stat; NaN where there is none. */
export function machineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
  } catch {
    return Number.NaN;
  }
}

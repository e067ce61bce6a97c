/** What the storm benchmark's parent and its worker processes share: config, messages, the clock. */

/** Where the chains live, as every process of one run opens it. */
export type StormBackend =
  | { kind: 'postgres'; connectionString: string }
  | { kind: 'redis'; url: string; prefix: string };

export type BackendKind = StormBackend['kind'];

/** What one worker process is told (as JSON in STORM_CONFIG). */
export interface WorkerConfig {
  backend: StormBackend;
  /** Names the worker's connections (PostgreSQL `application_name`). */
  name: string;
  slackUrl: string;
  clientId: string;
  clientSecret: string;
  /** The teams whose bot chains all expired; the worker asks for each once, in this order. */
  teams: string[];
  /** A team with a valid token, read once before 'ready' to warm the code paths. */
  warmTeam: string;
  /**
   * Teams of a storm run before the measured one, on chains of their own that expired as well: the
   * processes' first storm, while V8 still compiles what a storm runs. Reported apart.
   */
  firstTeams?: string[];
  /** `max` of the worker's `pg.Pool`. */
  poolMax: number;
  /** The lock's safety recheck (ms): long, so no polling can hide behind the numbers. */
  lockRecheckMs: number;
  /**
   * STORM_FLOOR=1 (Redis): this worker is no rotator but the floor of a waiter — a bare ioredis
   * client that reads each record and the lock's TTL as a waiter does, then waits for the commit's
   * message. What a real waiter's wake-up adds is the difference.
   */
  bare?: boolean;
}

/** One call of the lock's `acquire` seen by a worker's lock wrapper (epoch ms). */
export interface Acquisition {
  calledAt: number;
  settledAt: number;
  /** False when it failed (e.g. `lock_timeout` of a try with `waitMs: 0`). */
  taken: boolean;
  releasedAt?: number;
}

/** What a worker saw for one chain. Times are epoch ms on the machine's clock (sub-ms precision). */
export interface ChainEntry {
  teamId: string;
  resolvedAt: number;
  /** A short SHA-256 of the token served (never the token). */
  tokenHash?: string;
  error?: string;
  /** This process refreshed the chain: when its `refreshed` event fired (right after the CAS). */
  committedAt?: number;
  /** When this process sent the CAS that stored the new pair: the commit lies in [casSentAt, committedAt]. */
  casSentAt?: number;
  /**
   * The server's clock when it ran that CAS (PostgreSQL: `clock_timestamp()` in the statement;
   * Redis: `TIME` sent right before the script on the same connection): at or just before the commit.
   */
  serverCommittedAt?: number;
  /** When this process's last `Lock.wait` for this chain returned (it heard a commit or a release). */
  waitReturnedAt?: number;
  acquisitions: Acquisition[];
  /** Each statement / script this process sent about the lock of this chain: sent and answered (epoch ms). */
  lockCalls: LockCall[];
}

/** One statement (PostgreSQL) or script (Redis) about a lock, as the worker's client saw it. */
export interface LockCall {
  sentAt: number;
  answeredAt: number;
}

/** How busy a worker was from 'go' until its last call resolved. */
export interface WorkerLoad {
  /** CPU time (user + system) the worker used (ms). */
  cpuMs: number;
  /** Event-loop delay p99 and max (ms): how long a ready callback (a wake-up) could wait its turn. */
  loopDelayP99: number;
  loopDelayMax: number;
  /** Garbage collection during the storm: the pauses' sum and the longest (ms). */
  gcMs: number;
  gcMaxMs: number;
  /** Each pause, for STORM_DUMP. */
  gcPauses: GcPause[];
  /** With STORM_GAPS=1, for STORM_DUMP: when the event loop went 8 ms or more without running a timer. */
  gaps: LoopGap[];
}

/** A stretch the worker's event loop ran no timer (epoch ms, the worker's clock), and the CPU it used meanwhile. */
export interface LoopGap {
  at: number;
  ms: number;
  cpuMs: number;
}

/** A garbage collection during a storm: when it started (epoch ms, the worker's clock), how long, which. */
export interface GcPause {
  at: number;
  ms: number;
  /** `perf_hooks.constants.NODE_PERFORMANCE_GC_*`: 1 scavenge, 4 mark-compact, 8 incremental marking, 16 weak callbacks. */
  kind: number;
}

/** Parent → worker. `at` is the epoch ms at which every worker starts its calls. */
export type ParentMessage = { type: 'go'; at: number };

/** Worker → parent. */
export type WorkerMessage =
  | { type: 'ready' }
  | {
      type: 'result';
      name: string;
      /** 0 for the first storm, 1 for the measured one after it (see `WorkerConfig.firstTeams`). */
      phase: number;
      entries: ChainEntry[];
      load: WorkerLoad;
      warnings: string[];
    }
  | { type: 'failed'; message: string };

/**
 * Epoch milliseconds with sub-millisecond precision, comparable across processes: `performance.now()`
 * anchored on the edge of a `Date.now()` tick (each process's `performance.timeOrigin` is taken at
 * its own start and may be off by a fraction of a millisecond; a tick edge is not). The edge lies
 * between the last read of the old tick and the first read of the new one; on a loaded machine the
 * process can be descheduled in between, so several edges are taken and the narrowest one kept.
 */
export function createClock(edges = 8): () => number {
  let origin = Date.now() - performance.now();
  let width = Number.POSITIVE_INFINITY;
  for (let i = 0; i < edges; i++) {
    let start = performance.now();
    let tick = Date.now();
    let end = performance.now();
    const first = tick;
    let previousStart = start;
    while (tick === first) {
      previousStart = start;
      start = performance.now();
      tick = Date.now();
      end = performance.now();
    }
    // The last read of the old tick began after `previousStart`; the first read of the new one ended
    // before `end`: the edge lies between.
    if (end - previousStart < width) {
      width = end - previousStart;
      origin = tick - (previousStart + end) / 2;
    }
  }
  return () => origin + performance.now();
}

/** The `p`-quantile (0..1) of some numbers (nearest rank). */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

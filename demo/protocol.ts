/** The messages between the demo's parent process and its workers (over the fork IPC channel). */

/** One workspace a worker calls, and the store key of its bot chain. */
export interface Workspace {
  teamId: string;
  chainKey: string;
}

/** Everything a worker needs; sent over IPC so the client secret never shows in `ps`. */
export interface Setup {
  type: 'setup';
  index: number;
  naive: boolean;
  seed: number;
  databasePath: string;
  slackApiUrl: string;
  clientId: string;
  clientSecret: string;
  workspaces: Workspace[];
}

/** Starts the load at `startAt` and ends it at `endAt` (epoch ms, same clock for every worker). */
export interface Go {
  type: 'go';
  startAt: number;
  endAt: number;
}

/** What a worker counted. Codes only: never a token. */
export interface WorkerStats {
  calls: number;
  ok: number;
  failed: number;
  /** Failed calls by Slack error or library error code. */
  failedBy: Record<string, number>;
  /** Refreshes this worker completed (the rotator's `refreshed` events, or the naive `ok:true` answers). */
  refreshes: number;
  /** Refresh failures seen by this worker, by code. */
  refreshErrors: Record<string, number>;
}

export type ToWorker = Setup | Go;

export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; stats: WorkerStats }
  | { type: 'done'; stats: WorkerStats }
  | { type: 'failed'; message: string };

/** Adds one to `counts[code]`. */
export function bump(counts: Record<string, number>, code: string): void {
  counts[code] = (counts[code] ?? 0) + 1;
}

/** Zeroed stats. */
export function emptyStats(): WorkerStats {
  return { calls: 0, ok: 0, failed: 0, failedBy: {}, refreshes: 0, refreshErrors: {} };
}

/** The sum of several workers' stats. */
export function sumStats(all: readonly WorkerStats[]): WorkerStats {
  const total = emptyStats();
  for (const s of all) {
    total.calls += s.calls;
    total.ok += s.ok;
    total.failed += s.failed;
    total.refreshes += s.refreshes;
    for (const [code, n] of Object.entries(s.failedBy))
      total.failedBy[code] = (total.failedBy[code] ?? 0) + n;
    for (const [code, n] of Object.entries(s.refreshErrors)) {
      total.refreshErrors[code] = (total.refreshErrors[code] ?? 0) + n;
    }
  }
  return total;
}

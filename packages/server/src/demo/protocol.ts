/** The messages between the demo's parent process and its clients (over the fork IPC channel). */

/** One workspace a client calls. */
export interface Workspace {
  teamId: string;
  /** The broker's installation id (broker mode). */
  installationId: string;
  /** The store key of its bot chain (naive mode: the clients read the store themselves). */
  chainKey: string | null;
}

/** How a client gets its tokens: from the broker over HTTP, or from the shared SQLite file itself. */
export type Source =
  | { mode: 'broker'; brokerUrl: string; apiKey: string }
  | { mode: 'naive'; databasePath: string; clientId: string; clientSecret: string };

/** Everything a client needs; sent over IPC so the secrets never show in `ps`. */
export interface Setup {
  type: 'setup';
  index: number;
  seed: number;
  slackApiUrl: string;
  source: Source;
}

/**
 * Starts the load at `startAt` and ends it at `endAt` (epoch ms, same clock for every client), on
 * these workspaces (known only once they are installed, while the clients start).
 */
export interface Go {
  type: 'go';
  startAt: number;
  endAt: number;
  workspaces: Workspace[];
}

/** What a client counted. Codes only: never a token. */
export interface ClientStats {
  /** `chat.postMessage` calls (a retry after `token_expired` is part of the same call). */
  calls: number;
  ok: number;
  failed: number;
  /** Failed calls by Slack error or library error code. */
  failedBy: Record<string, number>;
  /** Naive mode: refreshes this client completed (`ok: true` answers). */
  refreshes: number;
  /** Naive mode: refresh failures this client saw, by Slack error. */
  refreshErrors: Record<string, number>;
  /** Broker mode: `GET …/token` requests. */
  tokenRequests: number;
  /** Broker mode: `POST …/token/expired` reports (after Slack answered `token_expired`). */
  expiredReports: number;
}

/** What the parent sends a client: its setup first, then the start signal. */
export type ToClient = Setup | Go;

/** What a client sends the parent: ready, its counts as it goes and at the end, or its failure. */
export type FromClient =
  | { type: 'ready' }
  | { type: 'progress'; stats: ClientStats }
  | { type: 'done'; stats: ClientStats }
  | { type: 'failed'; message: string };

/** Adds one to `counts[code]`. */
export function bump(counts: Record<string, number>, code: string): void {
  counts[code] = (counts[code] ?? 0) + 1;
}

/** Zeroed stats. */
export function emptyStats(): ClientStats {
  return {
    calls: 0,
    ok: 0,
    failed: 0,
    failedBy: {},
    refreshes: 0,
    refreshErrors: {},
    tokenRequests: 0,
    expiredReports: 0,
  };
}

/** The sum of several clients' stats. */
export function sumStats(all: readonly ClientStats[]): ClientStats {
  const total = emptyStats();
  for (const s of all) {
    total.calls += s.calls;
    total.ok += s.ok;
    total.failed += s.failed;
    total.refreshes += s.refreshes;
    total.tokenRequests += s.tokenRequests;
    total.expiredReports += s.expiredReports;
    for (const [code, n] of Object.entries(s.failedBy))
      total.failedBy[code] = (total.failedBy[code] ?? 0) + n;
    for (const [code, n] of Object.entries(s.refreshErrors)) {
      total.refreshErrors[code] = (total.refreshErrors[code] ?? 0) + n;
    }
  }
  return total;
}

/**
 * The demo's report: what the fake Slack saw (rotations, refresh calls, duplicates), what the
 * clients counted, and which chains are locked out — as text, and as the `REPORT {json}` line.
 */
import type { TokenStore } from 'slack-rotator';
import type { FakeSlack } from 'slack-rotator/testing';
import { type DemoConfig, SETTINGS } from './config.js';
import type { ClientStats } from './protocol.js';

/** What the fake Slack saw, read from its state; counts only. */
export interface SlackCounts {
  /** Refresh tokens spent: first presentations that issued a pair. */
  rotations: number;
  /** `oauth.v2.access` calls with `grant_type=refresh_token`. */
  refreshCalls: number;
  /** Refresh calls presenting a refresh token an earlier call had presented. */
  duplicates: number;
  /** Extra pairs issued from a spent refresh token within its grace period. */
  forks: number;
  /** Refresh calls answered `invalid_refresh_token`. */
  invalidRefreshToken: number;
}

/** The demo's result; the last stdout line is `REPORT ` + this as JSON. Never holds a token. */
export interface DemoReport extends SlackCounts {
  /** `broker`: clients ask the broker; `naive`: clients refresh the shared file themselves, unlocked. */
  mode: 'broker' | 'naive';
  seed: number;
  /** Client processes. */
  workers: number;
  workspaces: number;
  seconds: number;
  settings: {
    expiresInSeconds: number;
    accessTokenLifetimeMs: number;
    refreshGraceMs: number;
    siblingSurvivor: string;
    maxActiveTokens: number;
    latencyMs: { min: number; max: number };
    faults: 'none';
  };
  /** `chat.postMessage` calls made by the clients, and how they ended. */
  calls: number;
  ok: number;
  failed: number;
  failedBy: Record<string, number>;
  /** Broker mode: token requests to the broker, and `token/expired` reports among them. */
  tokenRequests: number;
  expiredReports: number;
  /** Chains whose stored refresh token Slack would refuse, or marked `reauthorization_required`. */
  lockouts: number;
  chains: number;
}

/** Counts rotations, refresh calls, duplicates and forks at the fake Slack. */
export function slackCounts(slack: FakeSlack): SlackCounts {
  const counts: SlackCounts = {
    rotations: 0,
    refreshCalls: 0,
    duplicates: 0,
    forks: 0,
    invalidRefreshToken: 0,
  };
  for (const chain of slack.chains()) {
    counts.rotations += chain.rotations;
    counts.forks += chain.forks;
  }
  for (const call of slack.calls) {
    if (call.method !== 'oauth.v2.access' || call.grantType !== 'refresh_token') continue;
    counts.refreshCalls += 1;
    if (call.duplicate) counts.duplicates += 1;
    if (call.outcome === 'invalid_refresh_token') counts.invalidRefreshToken += 1;
  }
  return counts;
}

/**
 * Counts locked-out chains: those whose stored refresh token the fake Slack would refuse (looked up
 * without spending it) or whose record is marked `reauthorization_required`.
 */
export async function countLockouts(
  store: TokenStore,
  slack: FakeSlack,
  clientId: string,
): Promise<{ lockouts: number; chains: number }> {
  let lockouts = 0;
  let chains = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list({ clientId, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const record of page.records) {
      chains += 1;
      const status = slack.peekRefreshToken(record.refreshToken);
      if (record.status === 'reauthorization_required' || status === 'dead' || status === 'unknown') {
        lockouts += 1;
      }
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return { lockouts, chains };
}

/** Puts the pieces of a run together. */
export function buildReport(
  config: DemoConfig,
  stats: ClientStats,
  slack: SlackCounts,
  locked: { lockouts: number; chains: number },
): DemoReport {
  const { latencyMs } = SETTINGS;
  return {
    mode: config.naive ? 'naive' : 'broker',
    seed: config.seed,
    workers: config.workers,
    workspaces: config.workspaces,
    seconds: config.seconds,
    settings: {
      expiresInSeconds: SETTINGS.expiresInSeconds,
      accessTokenLifetimeMs: SETTINGS.accessTokenLifetimeMs,
      refreshGraceMs: SETTINGS.refreshGraceMs,
      siblingSurvivor: SETTINGS.siblingSurvivor,
      maxActiveTokens: SETTINGS.maxActiveTokens,
      latencyMs: { min: latencyMs.min, max: latencyMs.max },
      faults: 'none',
    },
    calls: stats.calls,
    ok: stats.ok,
    failed: stats.failed,
    failedBy: stats.failedBy,
    tokenRequests: stats.tokenRequests,
    expiredReports: stats.expiredReports,
    ...slack,
    ...locked,
  };
}

const n = (value: number) => value.toLocaleString('en-US');

function breakdown(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([code, count]) => `${code} ${n(count)}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** The human-readable report. */
export function formatReport(report: DemoReport): string {
  const s = report.settings;
  const engine =
    report.mode === 'naive'
      ? 'naive: read, refresh when near expiry, write the record back (no lock, no compare-and-set)'
      : 'slack-rotator-server: clients ask the HTTP token broker; broker and sweeper refresh under a lock with compare-and-set';
  const lines = [
    '',
    `slack-rotator demo — ${engine}`,
    `seed ${report.seed} · ${report.workers} client processes · ${report.workspaces} workspaces · ${report.seconds} s · ${
      report.mode === 'naive'
        ? 'one SQLite file shared by the clients (WAL)'
        : 'the broker on its embedded SQLite file'
    }`,
    '',
    'Fake Slack settings (time compressed: Slack says 12 h, here seconds)',
    `  access tokens         expires_in ${s.expiresInSeconds} s, dead after ${s.accessTokenLifetimeMs / 1000} s; refresh when < ${SETTINGS.refreshWindowMs / 1000} s remain`,
    `  grace period          ${s.refreshGraceMs / 1000} s: a spent refresh token is still accepted, and forks a sibling pair`,
    `  sibling pairs         the ${s.siblingSurvivor}-issued of two sibling pairs survives (slackapi/node-slack-sdk#2504)`,
    `  active-token limit    ${s.maxActiveTokens} per chain: issuing another revokes the oldest`,
    `  latency               ${s.latencyMs.min}–${s.latencyMs.max} ms per call`,
    '  injected faults       none',
    '',
    'Results',
    `  API calls             ${n(report.calls)}: ok ${n(report.ok)}, failed ${n(report.failed)}${breakdown(report.failedBy)}`,
    ...(report.mode === 'naive'
      ? []
      : [
          `  token requests        ${n(report.tokenRequests)} to the broker (${n(report.expiredReports)} token/expired reports after Slack answered token_expired)`,
        ]),
    `  rotations             ${n(report.rotations)}`,
    `  refresh calls         ${n(report.refreshCalls)} at Slack (${n(report.invalidRefreshToken)} answered invalid_refresh_token)`,
    `  duplicates            ${n(report.duplicates)} (refresh calls presenting an already-presented refresh token; ${n(report.forks)} forked a sibling pair)`,
    `  lockouts              ${n(report.lockouts)} of ${n(report.chains)} chains (stored refresh token dead at Slack, or reauthorization required)`,
    '',
    report.mode === 'naive'
      ? 'Run `npm start` (without --naive) for the broker under the same settings, load and seed.'
      : 'Run `npm start -- --naive` to see the same load and seed through a textbook unlocked refresh: duplicates and lockouts.',
  ];
  return lines.join('\n');
}

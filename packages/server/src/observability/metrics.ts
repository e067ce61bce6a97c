/**
 * The Prometheus metrics of the server, on a registry of its own (never prom-client's global one).
 * Counters and histograms move with the rotators' events; the chain gauges are computed on scrape
 * from a (cached) pass over the store. No label carries a token or an installation.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RotatorError } from 'slack-rotator';
import type { ChainSnapshot } from './chain-snapshot.js';

/** What a refresh came to, by the class of its error (never Slack's free text). */
export type RefreshOutcome = 'refreshed' | 'retry_later' | 'reauthorize' | 'configuration' | 'storage';

/** The outcome class of a failed refresh. */
export function outcomeOf(error: RotatorError): RefreshOutcome {
  switch (error.name) {
    case 'ReauthorizationRequiredError':
      return 'reauthorize';
    case 'ConfigurationError':
      return 'configuration';
    case 'StorageError':
      return 'storage';
    default:
      // RetryLaterError, LockTimeoutError (a slow peer) and anything newer: nothing is lost.
      return 'retry_later';
  }
}

export interface Metrics {
  registry: Registry;
  refreshes: Counter<'outcome'>;
  refreshDuration: Histogram<string>;
  lockWait: Histogram<string>;
  casConflicts: Counter<'operation'>;
  racesRecovered: Counter<'how'>;
  lostRotations: Counter<string>;
}

/**
 * Creates the registry and its metrics. `snapshot` is called on scrape for the chain gauges; a
 * failing store leaves them empty and sets `slack_rotator_chain_scan_success` to 0.
 */
export function createMetrics(options: {
  snapshot: () => Promise<ChainSnapshot>;
  now: () => number;
}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const refreshes = new Counter({
    name: 'slack_rotator_refreshes_total',
    help: 'Refreshes by outcome class: refreshed, retry_later, reauthorize, configuration, storage.',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of ['refreshed', 'retry_later', 'reauthorize', 'configuration', 'storage']) {
    refreshes.inc({ outcome }, 0);
  }
  const refreshDuration = new Histogram({
    name: 'slack_rotator_refresh_duration_seconds',
    help: 'Duration of successful refreshes, from the first call to Slack to the stored pair.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const lockWait = new Histogram({
    name: 'slack_rotator_lock_wait_seconds',
    help: "Time a refresh waited for a chain's refresh lock (taken, or the holder refreshed the chain).",
    buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60],
    registers,
  });
  const casConflicts = new Counter({
    name: 'slack_rotator_cas_conflicts_total',
    help: 'Conditional writes that lost to a concurrent writer, by operation (commit, sibling, mark, intent).',
    labelNames: ['operation'] as const,
    registers,
  });
  const racesRecovered = new Counter({
    name: 'slack_rotator_lost_races_recovered_total',
    help: 'Refresh races that ended with the chain saved, by how (adopted_winner, peer_rotated, sibling_fallback).',
    labelNames: ['how'] as const,
    registers,
  });
  const lostRotations = new Counter({
    name: 'slack_rotator_lost_rotations_total',
    help: 'Chains found dead after a refresh whose answer was lost (cause lost_rotation).',
    registers,
  });

  const scanSuccess = new Gauge({
    name: 'slack_rotator_chain_scan_success',
    help: 'Whether the last pass over the store for the chain gauges succeeded (1) or failed (0).',
    registers,
    async collect() {
      await scan();
    },
  });
  const chains = new Gauge({
    name: 'slack_rotator_chains',
    help: 'Stored chains by status.',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      const snapshot = await scan();
      this.reset();
      if (snapshot === undefined) return;
      for (const [status, count] of Object.entries(snapshot.counts)) this.set({ status }, count);
    },
  });
  const minSeconds = new Gauge({
    name: 'slack_rotator_min_seconds_until_expiry',
    help: 'Seconds until the soonest access token of an active chain expires (negative: already expired; NaN: no active chain).',
    registers,
    async collect() {
      const snapshot = await scan();
      const soonest = snapshot?.activeExpiries[0];
      this.set(soonest === undefined ? Number.NaN : (soonest - options.now()) / 1000);
    },
  });
  void chains;
  void minSeconds;

  /** The snapshot, or `undefined` when the store failed (recorded in the success gauge). */
  async function scan(): Promise<ChainSnapshot | undefined> {
    try {
      const snapshot = await options.snapshot();
      scanSuccess.set(1);
      return snapshot;
    } catch {
      scanSuccess.set(0);
      return undefined;
    }
  }

  collectDefaultMetrics({ register: registry });
  return { registry, refreshes, refreshDuration, lockWait, casConflicts, racesRecovered, lostRotations };
}

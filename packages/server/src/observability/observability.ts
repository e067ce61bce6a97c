/**
 * The server's observability: Prometheus metrics and the dashboard's recent activity, fed by every
 * configured app's rotator events, and the chain gauges computed from the store on scrape.
 */
import type { RotatorEvents } from 'slack-rotator';
import { formatInstallationId } from '../installation-id.js';
import type { Backends } from '../types.js';
import { type Activity, createActivity } from './activity.js';
import { type ChainSnapshot, chainName, createSnapshotCache } from './chain-snapshot.js';
import { createMetrics, type Metrics, outcomeOf } from './metrics.js';

export interface ObservabilityOptions {
  /** The server's clock (epoch ms); default `backends.now`. */
  now?: () => number;
  /** How long a pass over the store is reused (real ms). Default 5,000. */
  cacheMs?: number;
  /**
   * How long past `cacheMs` a pass may still be served while a new one runs (real ms). Default
   * 60,000; 0: every caller after `cacheMs` waits for a new pass.
   */
  maxStaleMs?: number;
  /** How many events the dashboard remembers. Default 200. */
  activityCapacity?: number;
}

export interface Observability {
  /** The metrics' own registry (`registry.metrics()` is the `/metrics` text). */
  registry: Metrics['registry'];
  activity: Activity;
  /** The cached pass over the store the gauges and the dashboard share. */
  snapshot(): Promise<ChainSnapshot>;
  now: () => number;
  /** Whether installation ids carry their app id. */
  prefixed: boolean;
  /** Stops listening to the rotators. */
  close(): void;
}

/** What observability needs of the opened backends. */
export type ObservedBackends = Pick<Backends, 'store' | 'apps' | 'now'>;

/** Subscribes to every app's rotator and builds the registry. */
export function createObservability(
  backends: ObservedBackends,
  options: ObservabilityOptions = {},
): Observability {
  const now = options.now ?? backends.now;
  const prefixed = backends.apps.length > 1;
  const cache = createSnapshotCache(backends.store, {
    prefixed,
    cacheMs: options.cacheMs ?? 5_000,
    maxStaleMs: options.maxStaleMs ?? 60_000,
  });
  const metrics = createMetrics({ snapshot: cache.get, now });
  const activity = createActivity(options.activityCapacity ?? 200);
  const unsubscribe: (() => void)[] = [];

  for (const { config, rotator } of backends.apps) {
    const remember = (
      ref: { installationId: string; kind: RotatorEvents['refreshed']['kind']; userId: string | null },
      kind: string,
      outcome: string,
      code?: string,
    ) => {
      activity.push({
        at: now(),
        installationId: formatInstallationId(ref.installationId, config.appId, prefixed),
        chain: chainName(ref.kind, ref.userId),
        kind,
        outcome,
        code,
      });
    };
    unsubscribe.push(
      rotator.on('refreshed', (event) => {
        metrics.refreshes.inc({ outcome: 'refreshed' });
        metrics.refreshDuration.observe(event.durationMs / 1000);
        remember(event, 'refreshed', 'refreshed');
      }),
      rotator.on('refresh-failed', (event) => {
        const outcome = outcomeOf(event.error);
        metrics.refreshes.inc({ outcome });
        remember(event, 'refresh-failed', outcome, event.error.code);
      }),
      rotator.on('reauthorization_required', (event) => {
        if (event.cause === 'lost_rotation') metrics.lostRotations.inc();
        remember(event, 'reauthorization_required', 'reauthorize', event.cause);
      }),
      rotator.on('lock-acquired', (event) => metrics.lockWait.observe(event.waitedMs / 1000)),
      rotator.on('peer-refreshed', (event) => metrics.lockWait.observe(event.waitedMs / 1000)),
      rotator.on('cas-conflict', (event) => {
        metrics.casConflicts.inc({ operation: event.operation });
        remember(event, 'cas-conflict', event.operation);
      }),
      rotator.on('race-recovered', (event) => {
        metrics.racesRecovered.inc({ how: event.how });
        remember(event, 'race-recovered', event.how);
      }),
    );
  }

  return {
    registry: metrics.registry,
    activity,
    snapshot: cache.get,
    now,
    prefixed,
    close() {
      for (const off of unsubscribe.splice(0)) off();
    },
  };
}

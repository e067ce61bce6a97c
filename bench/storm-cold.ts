/**
 * A cold `getToken` (cache miss, valid token in the store) against a bare read of the same row on the
 * same pool / client, and the store's own `get`: interleaved, the order turned every sample, so all three
 * see the same moments.
 */
import { createRotator } from '../packages/rotator/src/manager.js';
import type { OpenedStore } from './storm-backends.js';
import { quantile } from './storm-shared.js';

export interface ColdResult {
  samples: number;
  /** Milliseconds. */
  getToken: { p50: number; p99: number };
  bare: { p50: number; p99: number };
  /** The store's `get` alone: the bare read plus decoding and checking the record. */
  storeGet: { p50: number; p99: number };
  /** Statements (PostgreSQL) or commands (Redis) one cold getToken sends, counted on the client. */
  roundTrips: number;
}

const WARMUP = 200;
const COUNTED = 100;

export async function measureCold(
  opened: OpenedStore,
  options: { clientId: string; clientSecret: string; slackUrl: string; teams: string[]; samples: number },
): Promise<ColdResult> {
  const { teams, samples } = options;
  const base = {
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    slackApiUrl: options.slackUrl,
  };
  // cacheTtlMs 0: every call misses the cache and reads the store.
  const rotator = createRotator({ ...base, store: opened.store, cacheTtlMs: 0 });
  const chainKeyOf = (team: string) => `${options.clientId}:${team}:bot`;
  const teamAt = (i: number) => teams[i % teams.length] as string;

  const timeOne = async (call: () => Promise<unknown>): Promise<number> => {
    const start = process.hrtime.bigint();
    await call();
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const cold: number[] = [];
  const bare: number[] = [];
  const get: number[] = [];
  for (let i = 0; i < WARMUP + samples; i++) {
    const team = teamAt(i);
    const calls = [
      () => rotator.getToken({ teamId: team }),
      () => opened.bareRead(chainKeyOf(team)),
      () => opened.store.get(chainKeyOf(team)),
    ];
    // The order turns every sample, so none of the three always comes first.
    const took = [0, 0, 0];
    for (let k = 0; k < calls.length; k++) {
      const which = (i + k) % calls.length;
      took[which] = await timeOne(calls[which] as () => Promise<unknown>);
    }
    if (i >= WARMUP) {
      cold.push(took[0] as number);
      bare.push(took[1] as number);
      get.push(took[2] as number);
    }
  }
  await rotator.close();

  const counted = opened.counted();
  const counting = createRotator({ ...base, store: counted.store, cacheTtlMs: 0 });
  for (let i = 0; i < COUNTED; i++) await counting.getToken({ teamId: teamAt(i) });
  await counting.close();
  await counted.store.close();

  return {
    samples,
    getToken: { p50: quantile(cold, 0.5), p99: quantile(cold, 0.99) },
    bare: { p50: quantile(bare, 0.5), p99: quantile(bare, 0.99) },
    storeGet: { p50: quantile(get, 0.5), p99: quantile(get, 0.99) },
    roundTrips: counted.sent() / COUNTED,
  };
}

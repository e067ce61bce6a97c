/**
 * Turns what the workers saw into the storm's numbers: caller waits, and wake-up latencies from each
 * holder's CAS commit to each of that chain's waiters resuming, across processes.
 */
import type { ChainEntry, LockCall } from './storm-shared.js';
import { quantile } from './storm-shared.js';

/** p50 / p99 / max of some milliseconds. */
export interface Spread {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  return {
    n: values.length,
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

export interface StormAnalysis {
  calls: number;
  errors: Record<string, number>;
  /** Chains not refreshed by exactly one process. */
  holderAnomalies: number;
  /** Calls served a token other than the one their chain's holder stored. */
  servedOther: number;
  /** Time from 'go' to each call resolving (ms), every successful call. */
  callerWait: Spread;
  /** From 'go' to the last call resolving (ms). */
  stormMs: number;
  /**
   * From the holder's commit to each waiter resuming with the new token (its `getToken` resolved),
   * in ms. The commit is the server's clock as it ran the CAS (see `ChainEntry.serverCommittedAt`),
   * so a busy holder process that reads its CAS answer late cannot shorten the numbers.
   */
  wake: Spread;
  /** From the same commit to the waiter's `Lock.wait` returning (woken, before its re-read), ms. */
  wakeHeard: Spread;
  /** The former measure: from the holder's process seeing its CAS answer to the waiter resuming, ms. */
  wakeFromHolderSeen: Spread;
  /** The holder's process saw its CAS answer this long after the server ran it (ms). */
  commitSeenLag: Spread;
  /** Chains whose commit time is the holder's `refreshed` event (no server clock was recorded). */
  commitsWithoutServerTime: number;
  /** p50 of the wake-up of the k-th waiter of a chain to resume (k = 1…). */
  wakeByRank: number[];
  /** Waiters whose first acquire was called before the commit (they found the lock held). */
  waitersBeforeCommit: number;
  /** Waiters that took the lock themselves after the holder (to re-read under it). */
  waitersThatLocked: number;
  /** Waiters that resumed before their holder sent its CAS: impossible unless the clocks disagree. */
  beforeCas: number;
  /** Non-holders that never called acquire: their first read already saw the new pair. */
  noWait: number;
  /** Holder: its process saw the CAS answer → its release returned (ms). */
  commitToRelease: Spread;
  /** A release returned → the next process's acquire returned (ms): the wake-up and one acquire. */
  handoff: Spread;
  /** A waiter that took the lock: its acquire returned → its getToken resolved (ms). */
  waiterHold: Spread;
  /** The holder's CAS: sent → `refreshed` event (ms); the commit lies inside. */
  casRoundTrip: Spread;
  /** Statements / scripts a waiter sent about the lock of its chain (each look, take, release). */
  lockCallsPerWaiter: Spread;
  /** Each waiter's longest sleep: from one lock call answered to the next sent (ms). */
  longestSleep: Spread;
  /**
   * Waiters that slept through a release: a sleep of at least 90 % of the recheck interval, during
   * which a release of that lock had returned more than a second before it ended. Such a sleep
   * was ended by the safety recheck, not by the release's message.
   */
  missedWakes: number;
  /** Processes whose acquire was called more than once for one chain (a retry after a lost race). */
  reacquired: number;
  /**
   * Processes that refreshed at least a tenth of the chains. More than one is a split: each of them
   * refreshes hundreds of chains while it waits for the others' commits.
   */
  bigHolders: number;
  /** Wake-ups of the waiters in those processes (ms). */
  wakeInBigHolders: Spread;
  /** Wake-ups of the waiters in the other processes (ms). */
  wakeElsewhere: Spread;
}

/** `entries[w]` is worker w's list; every worker asked for the same chains. */
export function analyze(workers: ChainEntry[][], goAt: number, recheckMs: number): StormAnalysis {
  const byTeam = new Map<string, ChainEntry[]>();
  const workerOf = new Map<ChainEntry, number>();
  const held = workers.map(() => 0);
  workers.forEach((entries, w) => {
    for (const entry of entries) {
      byTeam.set(entry.teamId, [...(byTeam.get(entry.teamId) ?? []), entry]);
      workerOf.set(entry, w);
      if (entry.committedAt !== undefined) held[w] = (held[w] ?? 0) + 1;
    }
  });
  const big = held.map((n) => n >= byTeam.size / 10);
  const wakesInBig: number[] = [];
  const wakesElsewhere: number[] = [];
  const errors: Record<string, number> = {};
  const waits: number[] = [];
  const wakes: number[] = [];
  const heard: number[] = [];
  const fromSeen: number[] = [];
  const seenLag: number[] = [];
  let withoutServerTime = 0;
  const ranks: number[][] = [];
  const commitToRelease: number[] = [];
  const handoffs: number[] = [];
  const holds: number[] = [];
  const cas: number[] = [];
  let holderAnomalies = 0;
  let servedOther = 0;
  let waitersBeforeCommit = 0;
  let waitersThatLocked = 0;
  let beforeCas = 0;
  let missedWakes = 0;
  const callCounts: number[] = [];
  const sleeps: number[] = [];
  let noWait = 0;
  let reacquired = 0;
  let last = goAt;
  let calls = 0;

  for (const entries of byTeam.values()) {
    for (const entry of entries) {
      calls++;
      last = Math.max(last, entry.resolvedAt);
      if (entry.error !== undefined) errors[entry.error] = (errors[entry.error] ?? 0) + 1;
      else waits.push(entry.resolvedAt - goAt);
      if (entry.acquisitions.length > 1) reacquired++;
    }
    const holders = entries.filter((e) => e.committedAt !== undefined);
    const holder = holders[0];
    if (holders.length !== 1 || holder?.committedAt === undefined) {
      holderAnomalies++;
      continue;
    }
    const seenAt = holder.committedAt;
    if (holder.serverCommittedAt === undefined) withoutServerTime++;
    else seenLag.push(seenAt - holder.serverCommittedAt);
    const committedAt = holder.serverCommittedAt ?? seenAt;
    if (holder.casSentAt !== undefined) cas.push(seenAt - holder.casSentAt);
    const held = holder.acquisitions.findLast((a) => a.taken);
    if (held?.releasedAt !== undefined) commitToRelease.push(held.releasedAt - seenAt);
    for (const entry of entries) {
      if (entry.tokenHash !== undefined && entry.tokenHash !== holder.tokenHash) servedOther++;
    }
    const releases = entries.flatMap((e) => e.acquisitions.flatMap((a) => a.releasedAt ?? []));
    // A waiter: a non-holder whose first read found the chain due, so it went for the lock.
    const waiters = entries
      .filter((e) => e !== holder && e.error === undefined)
      .filter((e) => {
        if (e.acquisitions.length > 0) return true;
        noWait++;
        return false;
      })
      .sort((a, b) => a.resolvedAt - b.resolvedAt);
    waiters.forEach((waiter, k) => {
      const wake = waiter.resolvedAt - committedAt;
      wakes.push(wake);
      (big[workerOf.get(waiter) ?? -1] ? wakesInBig : wakesElsewhere).push(wake);
      fromSeen.push(waiter.resolvedAt - seenAt);
      if (waiter.waitReturnedAt !== undefined && waiter.waitReturnedAt >= committedAt) {
        heard.push(waiter.waitReturnedAt - committedAt);
      }
      (ranks[k] ??= []).push(wake);
      if (holder.casSentAt !== undefined && waiter.resolvedAt < holder.casSentAt) beforeCas++;
      callCounts.push(waiter.lockCalls.length);
      let longest = 0;
      let missed = false;
      for (let i = 1; i < waiter.lockCalls.length; i++) {
        const from = (waiter.lockCalls[i - 1] as LockCall).answeredAt;
        const to = (waiter.lockCalls[i] as LockCall).sentAt;
        longest = Math.max(longest, to - from);
        if (to - from >= 0.9 * recheckMs && releases.some((at) => at > from && at < to - 1000)) missed = true;
      }
      if (waiter.lockCalls.length > 1) sleeps.push(longest);
      if (missed) missedWakes++;
      if ((waiter.acquisitions[0]?.calledAt ?? Number.POSITIVE_INFINITY) < committedAt) waitersBeforeCommit++;
      const took = waiter.acquisitions.findLast((a) => a.taken);
      if (took !== undefined) {
        waitersThatLocked++;
        holds.push(waiter.resolvedAt - took.settledAt);
      }
    });
    // Hand-offs: each lease of this chain, in order, to the next one taken.
    const leases = entries
      .flatMap((e) => e.acquisitions)
      .filter((a) => a.taken)
      .sort((a, b) => a.settledAt - b.settledAt);
    for (let i = 1; i < leases.length; i++) {
      const before = leases[i - 1]?.releasedAt;
      const after = leases[i]?.settledAt;
      if (before !== undefined && after !== undefined && after >= before) handoffs.push(after - before);
    }
  }
  return {
    calls,
    errors,
    holderAnomalies,
    servedOther,
    callerWait: spread(waits),
    stormMs: last - goAt,
    wake: spread(wakes),
    wakeHeard: spread(heard),
    wakeFromHolderSeen: spread(fromSeen),
    commitSeenLag: spread(seenLag),
    commitsWithoutServerTime: withoutServerTime,
    wakeByRank: ranks.map((values) => quantile(values, 0.5)),
    waitersBeforeCommit,
    waitersThatLocked,
    beforeCas,
    lockCallsPerWaiter: spread(callCounts),
    longestSleep: spread(sleeps),
    missedWakes,
    noWait,
    commitToRelease: spread(commitToRelease),
    handoff: spread(handoffs),
    waiterHold: spread(holds),
    casRoundTrip: spread(cas),
    reacquired,
    bigHolders: big.filter(Boolean).length,
    wakeInBigHolders: spread(wakesInBig),
    wakeElsewhere: spread(wakesElsewhere),
  };
}

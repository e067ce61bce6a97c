/** Prints the storm's runs as tables: per backend the median of its runs, and every run's value. */
import type { RunResult } from './storm.js';
import type { BackendKind } from './storm-shared.js';
import { median } from './storm-shared.js';

interface Row {
  label: string;
  target: string;
  value: (r: RunResult) => number;
  format: (x: number) => string;
}

const count = (x: number) => (Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const ms = (x: number) => {
  if (Number.isNaN(x)) return '–';
  if (x >= 1000) return `${(x / 1000).toFixed(2)} s`;
  if (x >= 10) return `${x.toFixed(0)} ms`;
  return `${x.toFixed(1)} ms`;
};
const fine = (x: number) =>
  Number.isNaN(x) ? '–' : x >= 10 ? `${x.toFixed(1)} ms` : `${(x * 1000).toFixed(0)} µs`;
const times = (x: number) => (Number.isNaN(x) ? '–' : `${x.toFixed(2)}×`);
const cpu = (x: number) => (Number.isNaN(x) ? '–' : `${(x / 1000).toFixed(1)} s`);
const percent = (x: number) => (Number.isNaN(x) ? '–' : `${Math.round(x * 100)} %`);
const round = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(2));
const errorsOf = (r: RunResult) => Object.values(r.analysis.errors).reduce((sum, n) => sum + n, 0);
const row = (label: string, target: string, value: Row['value'], format: Row['format']): Row => ({
  label,
  target,
  value,
  format,
});

function stormRows(processes: number, chains: number): Row[] {
  const waiters = ((processes - 1) * chains).toLocaleString('en-US');
  return [
    row('refresh calls at Slack', chains.toLocaleString('en-US'), (r) => r.refreshCalls, count),
    row('duplicate refresh calls', '0', (r) => r.duplicates, count),
    row('lockouts (stored refresh token not live, or chain marked)', '0', (r) => r.lockouts, count),
    row('failed getToken calls', '0', errorsOf, count),
    row(
      'calls served a token other than the one stored',
      '0',
      (r) => r.analysis.servedOther + r.storedMismatch,
      count,
    ),
    row('chains not refreshed by exactly one process', '0', (r) => r.analysis.holderAnomalies, count),
    row('storm: go → last call resolved', '', (r) => r.analysis.stormMs, ms),
    row('caller wait p50', '', (r) => r.analysis.callerWait.p50, ms),
    row('caller wait p99', '', (r) => r.analysis.callerWait.p99, ms),
    row(
      `waiters (of ${waiters}: non-holders whose first read found the chain due)`,
      '',
      (r) => r.analysis.wake.n,
      count,
    ),
    row('… that called acquire before the commit', '', (r) => r.analysis.waitersBeforeCommit, count),
    row('… that took the lock themselves after the holder', '', (r) => r.analysis.waitersThatLocked, count),
    row(
      '**wake-up p50** (holder’s commit, by the server’s clock → waiter’s getToken resolved)',
      '',
      (r) => r.analysis.wake.p50,
      ms,
    ),
    row('**wake-up p99**', '≤ 25 ms', (r) => r.analysis.wake.p99, ms),
    row(
      'processes that refreshed a tenth of the chains or more (more than one: the locks split)',
      '',
      (r) => r.analysis.bigHolders,
      count,
    ),
    row('… wake-up p99 of the waiters in those processes', '', (r) => r.analysis.wakeInBigHolders.p99, ms),
    row('… wake-up p99 of the waiters in the others', '', (r) => r.analysis.wakeElsewhere.p99, ms),
    row('wake-up max', '', (r) => r.analysis.wake.max, ms),
    row('wake-up min (below 0 only if the clocks disagree)', '', (r) => r.analysis.wake.min, ms),
    row(
      'woken: commit → the waiter’s `Lock.wait` returned (before its re-read), p50',
      '',
      (r) => r.analysis.wakeHeard.p50,
      ms,
    ),
    row('woken p99', '', (r) => r.analysis.wakeHeard.p99, ms),
    row('woken: waiters counted', '', (r) => r.analysis.wakeHeard.n, count),
    row(
      'former measure: holder’s process saw its CAS answer → waiter resumes, p99',
      '',
      (r) => r.analysis.wakeFromHolderSeen.p99,
      ms,
    ),
    row(
      'holder’s process saw its CAS answer after the server ran it by, p50',
      '',
      (r) => r.analysis.commitSeenLag.p50,
      ms,
    ),
    row('… p99', '', (r) => r.analysis.commitSeenLag.p99, ms),
    row(
      'commits timed by the holder’s event instead (no server time: 0)',
      '0',
      (r) => r.analysis.commitsWithoutServerTime,
      count,
    ),
    row(
      'waiters resumed before their holder sent its CAS (a check of the clocks: 0)',
      '0',
      (r) => r.analysis.beforeCas,
      count,
    ),
    row(
      'lock statements / scripts per waiter (looks, take, release), p50',
      '',
      (r) => r.analysis.lockCallsPerWaiter.p50,
      count,
    ),
    row('lock statements / scripts per waiter, max', '', (r) => r.analysis.lockCallsPerWaiter.max, count),
    row('a waiter’s longest sleep between two lock calls, max', '', (r) => r.analysis.longestSleep.max, ms),
    row(
      'waiters that slept through a release until the 10 s recheck',
      '0',
      (r) => r.analysis.missedWakes,
      count,
    ),
    row('holder: CAS answer seen → its release returned, p50', '', (r) => r.analysis.commitToRelease.p50, ms),
    row('holder: CAS answer seen → its release returned, p99', '', (r) => r.analysis.commitToRelease.p99, ms),
    row(
      'lock hand-off (a release returned → next acquire returned), p50',
      '',
      (r) => r.analysis.handoff.p50,
      ms,
    ),
    row('lock hand-off p99', '', (r) => r.analysis.handoff.p99, ms),
    row(
      'waiter that took the lock: acquired → getToken resolved, p50',
      '',
      (r) => r.analysis.waiterHold.p50,
      ms,
    ),
    row('holder’s CAS sent → `refreshed` event, p50', '', (r) => r.analysis.casRoundTrip.p50, ms),
    row('holder’s CAS sent → `refreshed` event, p99', '', (r) => r.analysis.casRoundTrip.p99, ms),
    row('workers’ event-loop delay during the storm, p99 (median of workers)', '', (r) => r.loopDelayP99, ms),
    row('workers’ event-loop delay, max', '', (r) => r.loopDelayMax, ms),
    row(
      'workers’ garbage-collection pauses during the storm, sum (median of workers)',
      '',
      (r) => r.gcMs,
      ms,
    ),
    row('workers’ longest garbage-collection pause', '', (r) => r.gcMaxMs, ms),
    row('CPU time of the workers during the storm', '', (r) => r.workersCpuMs, cpu),
    row('CPU time of the parent (fake Slack) during the storm', '', (r) => r.parentCpuMs, cpu),
    row('CPU time of the other processes (the database server, mostly)', '', (r) => r.otherCpuMs, cpu),
    row('machine’s cores busy during the storm (every process)', '', (r) => r.machineBusy, percent),
    row('run (install, storm, checks, cold reads)', '< 10 min', (r) => r.totalMs, ms),
  ];
}

/** The storm's rows whose label is one of `exact`, starts with one of `starts`, or holds `wake-up`. */
function pick(processes: number, chains: number, exact: string[], starts: string[]): Row[] {
  return stormRows(processes, chains).filter(
    (r) =>
      exact.includes(r.label) ||
      r.label.includes('wake-up') ||
      starts.some((start) => r.label.startsWith(start)),
  );
}

function calmRows(processes: number, chains: number): Row[] {
  return pick(
    processes,
    chains,
    ['refresh calls at Slack', 'duplicate refresh calls', 'failed getToken calls'],
    [
      'woken',
      'holder’s process saw its CAS answer',
      'holder: CAS answer seen',
      'former measure',
      'caller wait',
      'lock hand-off (',
      'waiters',
      'lock statements',
      'a waiter’s longest',
    ],
  );
}

/** The rows that say what the processes' first storm did (its chains' own counts, waits and wake-ups). */
function firstRows(processes: number, chains: number): Row[] {
  return pick(
    processes,
    chains,
    [
      'refresh calls at Slack',
      'duplicate refresh calls',
      'lockouts (stored refresh token not live, or chain marked)',
      'failed getToken calls',
      'calls served a token other than the one stored',
      'chains not refreshed by exactly one process',
    ],
    ['woken', 'caller wait', 'storm:', 'workers’', 'CPU time', 'machine’s', 'processes that refreshed'],
  );
}

const cold = (f: (c: NonNullable<RunResult['cold']>) => number) => (r: RunResult) =>
  r.cold === undefined ? Number.NaN : f(r.cold);

const COLD_ROWS: Row[] = [
  row(
    'cold getToken p50',
    '',
    cold((c) => c.getToken.p50),
    fine,
  ),
  row(
    'bare read of the row p50',
    '',
    cold((c) => c.bare.p50),
    fine,
  ),
  row(
    'store.get alone p50 (the read, decoded and checked)',
    '',
    cold((c) => c.storeGet.p50),
    fine,
  ),
  row(
    '**ratio p50** (getToken ÷ bare read)',
    '≈ 1×',
    cold((c) => c.getToken.p50 / c.bare.p50),
    times,
  ),
  row(
    'cold getToken p99',
    '',
    cold((c) => c.getToken.p99),
    fine,
  ),
  row(
    'bare read of the row p99',
    '',
    cold((c) => c.bare.p99),
    fine,
  ),
  row(
    'ratio p99',
    '≈ 1×',
    cold((c) => c.getToken.p99 / c.bare.p99),
    times,
  ),
  row(
    'round trips per cold getToken (counted on the client)',
    '1',
    cold((c) => c.roundTrips),
    round,
  ),
];

const KINDS: [BackendKind, string][] = [
  ['postgres', 'PostgreSQL'],
  ['redis', 'Redis'],
];

function table(rows: Row[], results: RunResult[]): string {
  const header = ['', 'target'];
  for (const [kind, name] of KINDS) {
    const n = results.filter((r) => r.kind === kind).length;
    header.push(`${name} (median)`, `${n} runs`);
  }
  const lines = [header, header.map(() => '---')];
  for (const { label, target, value, format } of rows) {
    const cells = [label, target];
    for (const [kind] of KINDS) {
      const values = results.filter((r) => r.kind === kind).map(value);
      cells.push(format(median(values)), values.map(format).join(' · '));
    }
    lines.push(cells);
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function byRank(results: RunResult[]): string {
  const lines = [
    '| waiter (k-th of a chain to resume) | PostgreSQL p50 | Redis p50 |',
    '| --- | --- | --- |',
  ];
  const ranks = Math.max(...results.map((r) => r.analysis.wakeByRank.length));
  for (let k = 0; k < ranks; k++) {
    const cell = (kind: BackendKind) =>
      ms(median(results.filter((r) => r.kind === kind).map((r) => r.analysis.wakeByRank[k] ?? Number.NaN)));
    lines.push(`| ${k + 1} | ${cell('postgres')} | ${cell('redis')} |`);
  }
  return lines.join('\n');
}

export function printReport(
  results: RunResult[],
  calm: RunResult[],
  size: { processes: number; chains: number; calmChains: number },
): void {
  const errors = new Map<string, number>();
  for (const r of [...results, ...calm]) {
    for (const [code, n] of Object.entries(r.analysis.errors)) {
      const key = `${r.kind} ${r.chains} chains: ${code}`;
      errors.set(key, (errors.get(key) ?? 0) + n);
    }
  }
  const firsts = results.flatMap((r) => (r.first === undefined ? [] : [{ ...r, ...r.first }]));
  const sections = [
    `## Storm: ${size.processes} processes × ${size.chains.toLocaleString('en-US')} chains expiring at once`,
    '',
    firsts.length === 0
      ? 'The processes’ first storm (STORM_FIRST=0).'
      : 'The processes’ second storm: each run’s processes first went through a storm of chains of their own (below), as a fleet that has been up through one 12-hour cycle has, then idled 6 s (the PostgreSQL lock gave its listening connection back).',
    '',
    table(stormRows(size.processes, size.chains), results),
    '',
    '### Wake-up by order of resuming (median over runs of each run’s p50)',
    '',
    byRank(results),
    '',
    '### Cold getToken against a bare read of the same row (same pool / client, interleaved)',
    '',
    table(COLD_ROWS, results),
    '',
  ];
  if (firsts.length > 0) {
    sections.push(
      `### The same processes’ first storm (${size.chains.toLocaleString('en-US')} chains of its own, just before; V8 still compiling what a storm runs)`,
      '',
      table(firstRows(size.processes, size.chains), firsts),
      '',
    );
  }
  if (calm.length > 0) {
    sections.push(
      `### Calm: ${size.processes} processes × ${size.calmChains} chains (the same mechanism, nothing saturated)`,
      '',
      table(calmRows(size.processes, size.calmChains), calm),
      '',
    );
  }
  sections.push(
    errors.size === 0
      ? 'no failed calls'
      : `failed calls: ${[...errors].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    `forks at Slack (pairs issued from a spent token): ${results.map((r) => r.forks).join(' ')}`,
    `processes that called acquire more than once for one chain: ${results.map((r) => r.analysis.reacquired).join(' ')}`,
    `non-holders whose first read already saw the new pair (no wait): ${results.map((r) => r.analysis.noWait).join(' ')}`,
    '',
  );
  process.stdout.write(sections.join('\n'));
}

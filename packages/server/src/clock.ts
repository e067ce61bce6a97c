/**
 * The server's clock. In production it is `Date.now`. TEST ONLY: a fast clock, `speed` times real
 * time from `epochMs` (the moment the test started), so a server process and a fake Slack in the
 * test process agree on every instant without sharing memory: both compute
 * `epochMs + (Date.now() - epochMs) * speed`.
 */
export function createClock(test: { speed: number; epochMs: number } | undefined): () => number {
  if (test === undefined) return Date.now;
  const { speed, epochMs } = test;
  return () => epochMs + (Date.now() - epochMs) * speed;
}

/** Real milliseconds to wait for `ms` of (possibly fast) clock time. */
export function realDelay(ms: number, test: { speed: number } | undefined): number {
  return test === undefined ? ms : ms / test.speed;
}

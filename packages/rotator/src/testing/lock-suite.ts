import type { Lock } from '../lock/types.js';
import { acquireCases, type LockCaseFixture, leaseCases } from './lock-cases.js';
import { waitCases } from './lock-wait-cases.js';
import { registerCases, type SuiteCase, type TestRunner } from './suite.js';

/** What `create` of {@link describeLock} returns: a fresh lock with no lease held, for one test. */
export interface LockFixture {
  lock: Lock;
  /**
   * A second client of the same lock — another connection or client, as another process would
   * have — so the cases contend across clients. Default: `lock` itself.
   */
  peer?: Lock;
  /** Runs after the test, passed or failed. */
  cleanup?: () => Promise<void> | void;
}

/** A conformance case run against a fresh lock fixture. */
export type LockCase = SuiteCase<LockCaseFixture>;

/** Options of {@link describeLock}. */
export interface LockSuiteOptions {
  /** Names the adapter in the test titles. */
  name: string;
  /** Makes a fresh lock for each test; it is closed (and `cleanup` run) after the test. */
  create: () => Promise<LockFixture> | LockFixture;
  /**
   * The short lease TTL of the expiry cases (ms): long enough for one round trip to the backing
   * system, short enough to keep the suite quick. Default 200.
   */
  ttlMs?: number;
  /** More cases, grouped by title, run against the same fresh fixtures. */
  cases?: Readonly<Record<string, readonly LockCase[]>>;
}

/**
 * Registers the `Lock` conformance suite with your test framework: exclusion among concurrent
 * acquirers, try-once and timed waits (`lock_timeout`), abort, renew and release by the owner only,
 * a holder that dies mid-refresh and a lease that expires mid-refresh. It asserts outcomes, never
 * durations. Assertions use `node:assert/strict`.
 *
 * @example
 * import { describe, test } from 'vitest';
 * import { describeLock } from 'slack-rotator/testing';
 * describeLock({ describe, test }, { name: 'local', create: () => ({ lock: createLocalLock() }) });
 */
export function describeLock(runner: TestRunner, options: LockSuiteOptions): void {
  const ttlMs = options.ttlMs ?? 200;
  runner.describe(`Lock conformance: ${options.name}`, () => {
    registerCases(
      runner,
      { acquire: acquireCases, 'renew and release': leaseCases, wait: waitCases, ...options.cases },
      async () => {
        const { lock, peer, cleanup } = await options.create();
        return {
          fixture: { lock, peer: peer ?? lock, ttlMs },
          async close() {
            try {
              await lock.close?.();
              if (peer !== undefined && peer !== lock) await peer.close?.();
            } finally {
              await cleanup?.();
            }
          },
        };
      },
    );
  });
}

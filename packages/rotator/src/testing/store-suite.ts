import type { TokenStore } from '../store/types.js';
import { rotatorCases } from './rotator-cases.js';
import { compareAndSetCases, deleteCases, recordCases } from './store-cases.js';
import { concurrencyCases } from './store-concurrency-cases.js';
import type { StoreCaseFixture } from './store-fixtures.js';
import { intentCases } from './store-intent-cases.js';
import { listCases } from './store-list-cases.js';
import { registerCases, type SuiteCase, type TestRunner } from './suite.js';

/** What `create` of {@link describeTokenStore} returns: a fresh, empty store for one test. */
export interface StoreFixture {
  store: TokenStore;
  /**
   * A second client of the same data — another connection, pool or process-local client — so the
   * concurrency cases race two clients, not one. Default: `store` itself.
   */
  peer?: TokenStore;
  /** Runs after the test, passed or failed (e.g. closes connections, removes a temporary file). */
  cleanup?: () => Promise<void> | void;
}

/** A conformance case run against a fresh store fixture (see {@link TokenStoreSuiteOptions.cases}). */
export type StoreCase = SuiteCase<StoreCaseFixture>;

/** Options of {@link describeTokenStore}. */
export interface TokenStoreSuiteOptions {
  /** Names the adapter in the test titles. */
  name: string;
  /** Makes a fresh, empty store for each test; it is closed (and `cleanup` run) after the test. */
  create: () => Promise<StoreFixture> | StoreFixture;
  /**
   * More cases, grouped by title, run against the same fresh fixtures — the place for rotator-level
   * races over this store (two rotators racing one refresh).
   */
  cases?: Readonly<Record<string, readonly StoreCase[]>>;
}

/** The suite's own cases, by group. Rotator-level cases are added by groups of their own. */
const STORE_CASES: Readonly<Record<string, readonly StoreCase[]>> = {
  'get and put': recordCases,
  compareAndSet: compareAndSetCases,
  list: listCases,
  delete: deleteCases,
  concurrency: concurrencyCases,
  'refresh intents': intentCases,
  'rotators racing over the store': rotatorCases,
};

/**
 * Registers the `TokenStore` conformance suite with your test framework: copies in and out, versions,
 * compare-and-set, filters and keyset pagination, deletes, and races between concurrent writers.
 * Assertions use `node:assert/strict`; no test prints a token. Each test gets a fresh store from
 * `create`.
 *
 * @example
 * import { describe, test } from 'vitest';
 * import { describeTokenStore } from 'slack-rotator/testing';
 * describeTokenStore({ describe, test }, {
 *   name: 'memory',
 *   create: () => ({ store: createMemoryStore() }),
 * });
 */
export function describeTokenStore(runner: TestRunner, options: TokenStoreSuiteOptions): void {
  runner.describe(`TokenStore conformance: ${options.name}`, () => {
    registerCases(runner, { ...STORE_CASES, ...options.cases }, async () => {
      const { store, peer, cleanup } = await options.create();
      return {
        fixture: { store, peer: peer ?? store },
        async close() {
          try {
            await store.close();
            if (peer !== undefined && peer !== store) await peer.close();
          } finally {
            await cleanup?.();
          }
        },
      };
    });
  });
}

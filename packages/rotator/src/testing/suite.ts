import assert from 'node:assert/strict';
import { isRotatorError, type RotatorErrorCode } from '../errors.js';

/**
 * The two functions of your test framework the conformance suites register tests with — vitest's,
 * jest's or `node:test`'s `describe` and `test` fit as they are. Every test creates its own adapter
 * through the suite's `create` and cleans it up in a `finally`, so no `beforeEach`/`afterEach`
 * hooks are needed.
 *
 * @example
 * import { describe, test } from 'vitest';
 * describeTokenStore({ describe, test }, { name: 'my store', create: async () => ({ store: … }) });
 */
export interface TestRunner {
  describe(name: string, fn: () => void): unknown;
  test(name: string, fn: () => Promise<void>): unknown;
}

/** One conformance case: a name and a body that runs against a fresh fixture. */
export interface SuiteCase<Fixture> {
  name: string;
  run(fixture: Fixture): Promise<void>;
}

/** Registers `groups` of cases, each run against a fixture made by `open` and closed afterwards. */
export function registerCases<Fixture>(
  runner: TestRunner,
  groups: Readonly<Record<string, readonly SuiteCase<Fixture>[]>>,
  open: () => Promise<{ fixture: Fixture; close: () => Promise<void> }>,
): void {
  for (const [group, cases] of Object.entries(groups)) {
    if (cases.length === 0) continue;
    runner.describe(group, () => {
      for (const suiteCase of cases) {
        runner.test(suiteCase.name, async () => {
          const { fixture, close } = await open();
          try {
            await suiteCase.run(fixture);
          } finally {
            await close();
          }
        });
      }
    });
  }
}

/** Asserts that `promise` rejects with a `RotatorError` of `code`; returns the error. */
export async function rejectsWithCode(promise: Promise<unknown>, code: RotatorErrorCode): Promise<unknown> {
  let caught: unknown;
  let resolved = false;
  try {
    await promise;
    resolved = true;
  } catch (error) {
    caught = error;
  }
  assert.equal(resolved, false, `expected a rejection with code ${code}, but the promise resolved`);
  assert.ok(isRotatorError(caught), `expected a RotatorError with code ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

/** Resolves after `ms` milliseconds. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

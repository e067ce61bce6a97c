/**
 * `slack-rotator/testing`: a fake Slack server for your tests, and the conformance suites every
 * store and lock passes (run them against your own adapters).
 * @module
 */
export type {
  AccessTokenStatus,
  CallRecord,
  ChainState,
  ConfigToken,
  FakeSlack,
  FakeSlackOptions,
  FaultKind,
  FaultRates,
  InjectFaultOptions,
  InstallResponse,
  InstallSpec,
  Latency,
  RefreshTokenStatus,
} from './fake-slack.js';
export { createFakeSlack } from './fake-slack.js';
export type { LockCaseFixture } from './lock-cases.js';
export type { LockCase, LockFixture, LockSuiteOptions } from './lock-suite.js';
export { describeLock } from './lock-suite.js';
export type { StoreCaseFixture } from './store-fixtures.js';
export type { StoreCase, StoreFixture, TokenStoreSuiteOptions } from './store-suite.js';
export { describeTokenStore } from './store-suite.js';
export type { TestRunner } from './suite.js';

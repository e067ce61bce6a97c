import type { Logger } from '../../src/logger.js';
import { createRotator } from '../../src/manager.js';
import type { RotatorOptions } from '../../src/options.js';
import type { Rotator } from '../../src/rotator.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { TokenStore } from '../../src/store/types.js';
import { createFakeSlack, type FakeSlack, type FakeSlackOptions } from '../../src/testing/fake-slack.js';

/** One log line as a capturing logger saw it. */
export interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

/** A pino-compatible logger that keeps every line, for assertions and for token scans. */
export function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  slack: FakeSlack;
  store: TokenStore;
  rotator: Rotator;
  logger: ReturnType<typeof captureLogger>;
  /** Builds another rotator on the same fake and store (a second process, in miniature). */
  another(overrides?: Partial<RotatorOptions>): Rotator;
  /** Installs a workspace at the fake and saves it as if Slack had answered long enough ago that `remainingMs` is left. */
  installWith(spec: Parameters<FakeSlack['install']>[0], remainingMs?: number): Promise<string[]>;
  lifetimeMs: number;
  close(): Promise<void>;
}

/**
 * A fake Slack with compressed time (tokens reported and living `lifetimeMs`), a memory store, and a
 * rotator whose refresh window is a fixed fraction of the lifetime.
 */
export async function harness(
  options: {
    lifetimeMs?: number;
    slack?: FakeSlackOptions;
    rotator?: Partial<RotatorOptions>;
    store?: TokenStore;
  } = {},
): Promise<Harness> {
  const lifetimeMs = options.lifetimeMs ?? 60_000;
  const slack = await createFakeSlack({
    expiresInSeconds: Math.max(1, Math.round(lifetimeMs / 1000)),
    accessTokenLifetimeMs: lifetimeMs,
    ...options.slack,
  });
  const store = options.store ?? createMemoryStore();
  const logger = captureLogger();
  const rotators: Rotator[] = [];
  const events: unknown[] = [];
  const make = (overrides: Partial<RotatorOptions> = {}) => {
    const rotator = createRotator({
      clientId: slack.clientId,
      clientSecret: slack.clientSecret,
      store,
      slackApiUrl: slack.url,
      logger,
      tokenLifetimeMs: lifetimeMs,
      refreshWindowMs: lifetimeMs / 4,
      refreshJitterMs: 0,
      requestTimeoutMs: 2_000,
      ambiguousRetryDelaysMs: [20, 50, 100],
      rateLimitMaxWaitMs: 1_000,
      ...options.rotator,
      ...overrides,
    });
    rotators.push(rotator);
    for (const name of ['refreshed', 'refresh-failed', 'reauthorization_required'] as const) {
      rotator.on(name, (event) => events.push(event));
    }
    return rotator;
  };
  const rotator = make();
  return {
    slack,
    store,
    rotator,
    logger,
    another: make,
    lifetimeMs,
    async installWith(spec, remainingMs = lifetimeMs) {
      const response = slack.install(spec);
      const issuedAt = Date.now() - (response.expires_in * 1000 - remainingMs);
      const saved = await rotator.saveInstallation(response, { issuedAt });
      return saved.chains.map((c) => c.chainKey);
    },
    async close() {
      await Promise.all(rotators.map((r) => r.close()));
      await slack.close();
      assertNoTokens(logger.lines, events);
    },
  };
}

/** Moves a chain's stored expiry so that it is due (or expired), without touching its tokens. */
export async function expireSoon(store: TokenStore, chainKey: string, remainingMs: number): Promise<void> {
  const record = await store.get(chainKey);
  if (record === undefined) throw new Error(`no record for ${chainKey}`);
  const updated = await store.compareAndSet(chainKey, record.version, {
    expiresAt: Date.now() + remainingMs,
    updatedAt: Date.now(),
  });
  if (updated === undefined) throw new Error('expireSoon lost a race');
}

/** Counts refresh-grant calls the fake Slack received. */
export function refreshCalls(slack: FakeSlack): number {
  return slack.calls.filter((c) => c.method === 'oauth.v2.access' && c.grantType === 'refresh_token').length;
}

/** Every Slack token starts with `xox`; none may reach a log line, an event or an error message. */
export const TOKEN_PATTERN = /xox[a-z]?[.-]/;

function describe(value: unknown): string {
  if (value instanceof Error) {
    const cause = (value as { cause?: unknown }).cause;
    return `${value.name}: ${value.message} ${JSON.stringify({ ...value })} ${cause === undefined ? '' : describe(cause)}`;
  }
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? describe(v) : v)) ?? String(value);
}

/** Fails when a log line, event or error holds token material (without printing the token). */
export function assertNoTokens(lines: LogLine[], values: unknown[] = []): void {
  for (const line of lines) {
    if (TOKEN_PATTERN.test(`${line.msg} ${describe(line.obj)}`)) {
      throw new Error(`a ${line.level} log line holds token material: "${line.msg}"`);
    }
  }
  for (const value of values) {
    if (TOKEN_PATTERN.test(describe(value))) throw new Error('an event or error holds token material');
  }
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

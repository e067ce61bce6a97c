import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../src/config.js';
import { dataDir, defaultSqlitePath } from '../src/data-dir.js';
import { ServerError } from '../src/errors.js';

const SECRET = 'sec-ret-value-that-must-never-appear-0123456789';
const STATE = 'state-secret-of-at-least-32-characters-xyz';
const KEY = randomBytes(32).toString('base64');
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-config-'));
  dirs.push(dir);
  return dir;
}

function writeConfig(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

function configError(run: () => unknown): ServerError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).code).toBe('invalid_config');
    return error as ServerError;
  }
  throw new Error('expected loadConfig to throw');
}

const minimal = { SLACK_CLIENT_ID: '123.456', SLACK_CLIENT_SECRET: SECRET, HOME: '/home/u' };

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('gives the defaults from the environment alone: SQLite in the data folder, loopback, 300/min', () => {
    const config = loadConfig({ env: { ...minimal, XDG_DATA_HOME: '/data' } });
    expect(config.apps).toEqual([
      {
        appId: undefined,
        clientId: '123.456',
        clientSecret: SECRET,
        stateSecret: undefined,
        scopes: [],
        userScopes: [],
        redirectUri: undefined,
      },
    ]);
    expect(config.store).toEqual({
      kind: 'sqlite',
      path: process.platform === 'linux' ? '/data/slack-rotator/tokens.db' : expect.any(String),
    });
    expect(config.lock).toEqual({ kind: 'same' });
    expect(config.encryption).toBeUndefined();
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8787, tls: undefined });
    expect(config.slackApiUrl).toBe('https://slack.com/api/');
    expect(config.refreshWindowMs).toBe(3_600_000);
    expect(config.sweeper).toEqual({
      enabled: true,
      intervalMs: 60_000,
      concurrency: 8,
      budgetPerMinute: 300,
    });
    expect(config.logLevel).toBe('info');
    expect(config.testClock).toBeUndefined();
  });

  it('parses every environment variable', () => {
    const config = loadConfig({
      env: {
        ...minimal,
        SLACK_APP_ID: 'A0123',
        SLACK_STATE_SECRET: STATE,
        SLACK_SCOPES: 'chat:write, channels:read,',
        SLACK_USER_SCOPES: 'search:read',
        SLACK_REDIRECT_URI: 'https://example.com/slack/oauth_redirect',
        SLACK_ROTATOR_STORE: 'postgres://u:pw@db:5432/tokens',
        SLACK_ROTATOR_LOCK: 'redis://cache:6379',
        SLACK_ROTATOR_ENCRYPTION_KEYS: `k2:${KEY}, k1:${randomBytes(32).toString('base64url')}`,
        SLACK_ROTATOR_LISTEN: '[::1]:0',
        SLACK_API_URL: 'http://127.0.0.1:9999/api/',
        SLACK_ROTATOR_REFRESH_WINDOW_MS: '600000',
        SLACK_ROTATOR_BUDGET_PER_MINUTE: '600',
        SLACK_ROTATOR_SWEEP: 'off',
        SLACK_ROTATOR_SWEEP_INTERVAL_MS: '5000',
        SLACK_ROTATOR_SWEEP_CONCURRENCY: '4',
        SLACK_ROTATOR_LOG_LEVEL: 'DEBUG',
        SLACK_ROTATOR_TEST_CLOCK: '60@1767225600000',
      },
    });
    expect(config.apps[0]).toMatchObject({
      appId: 'A0123',
      stateSecret: STATE,
      scopes: ['chat:write', 'channels:read'],
      userScopes: ['search:read'],
      redirectUri: 'https://example.com/slack/oauth_redirect',
    });
    expect(config.store).toEqual({ kind: 'postgres', url: 'postgres://u:pw@db:5432/tokens' });
    expect(config.lock).toEqual({ kind: 'redis', url: 'redis://cache:6379' });
    expect(config.encryption?.keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(config.encryption?.keys[0]?.key.equals(Buffer.from(KEY, 'base64'))).toBe(true);
    expect(config.listen).toEqual({ host: '::1', port: 0, tls: undefined });
    expect(config.slackApiUrl).toBe('http://127.0.0.1:9999/api/');
    expect(config.refreshWindowMs).toBe(600_000);
    expect(config.sweeper).toEqual({
      enabled: false,
      intervalMs: 5000,
      concurrency: 4,
      budgetPerMinute: 600,
    });
    expect(config.logLevel).toBe('debug');
    expect(config.testClock).toEqual({ speed: 60, epochMs: 1767225600000 });
  });

  it.each([
    ['postgresql://h/db', { kind: 'postgres', url: 'postgresql://h/db' }],
    ['rediss://h:6380/0', { kind: 'redis', url: 'rediss://h:6380/0' }],
    ['sqlite:/abs/tokens.db', { kind: 'sqlite', path: '/abs/tokens.db' }],
    ['sqlite:rel/tokens.db', { kind: 'sqlite', path: '/work/dir/rel/tokens.db' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    ['./plain.db', { kind: 'sqlite', path: '/work/dir/plain.db' }],
  ])('reads the store URL %s', (url, expected) => {
    const config = loadConfig({ env: { ...minimal, SLACK_ROTATOR_STORE: url }, cwd: '/work/dir' });
    expect(config.store).toEqual(expected);
  });

  it('reads a YAML file; the environment overrides it', () => {
    const file = writeConfig(
      'c.yaml',
      [
        'clientId: "111.222"',
        `clientSecret: ${SECRET}`,
        'scopes: [chat:write, users:read]',
        'store: sqlite:tokens.db',
        'listen: 0.0.0.0:9000',
        'sweeper:',
        '  budgetPerMinute: 120',
        '  concurrency: 2',
        'logLevel: warn',
      ].join('\n'),
    );
    const config = loadConfig({
      file,
      env: { SLACK_CLIENT_ID: '333.444', SLACK_ROTATOR_LOG_LEVEL: 'error' },
      cwd: '/w',
    });
    expect(config.apps[0]).toMatchObject({
      clientId: '333.444',
      clientSecret: SECRET,
      scopes: ['chat:write', 'users:read'],
    });
    expect(config.store).toEqual({ kind: 'sqlite', path: '/w/tokens.db' });
    expect(config.listen.host).toBe('0.0.0.0');
    expect(config.sweeper).toMatchObject({ budgetPerMinute: 120, concurrency: 2 });
    expect(config.logLevel).toBe('error');
  });

  it('reads a JSON file named by SLACK_ROTATOR_CONFIG with several apps', () => {
    const file = writeConfig(
      'c.json',
      JSON.stringify({
        apps: [
          { appId: 'A1', clientId: '1.1', clientSecret: SECRET, stateSecret: STATE, scopes: 'chat:write' },
          { appId: 'A2', clientId: '2.2', clientSecret: SECRET, userScopes: ['search:read'] },
        ],
        encryptionKeys: [`main:${KEY}`],
      }),
    );
    const config = loadConfig({ env: { SLACK_ROTATOR_CONFIG: file } });
    expect(config.apps.map((a) => [a.appId, a.clientId, a.scopes, a.userScopes])).toEqual([
      ['A1', '1.1', ['chat:write'], []],
      ['A2', '2.2', [], ['search:read']],
    ]);
    expect(config.encryption?.keys.map((k) => k.id)).toEqual(['main']);
  });

  it('lists every problem at once, naming each setting as written, with no secret in the message', () => {
    const file = writeConfig(
      'bad.yaml',
      [
        'apps:',
        `  - { appId: A1, clientId: "1.1", clientSecret: ${SECRET} }`,
        `  - { appId: A1, clientId: "2.2", clientSecret: ${SECRET} }`,
        `  - { clientId: "3.3", clientSecret: ${SECRET}, stateSecret: short-${SECRET.slice(0, 5)} }`,
        `  - { appId: A4, clientSecret: ${SECRET} }`,
        'sweeper: { budget: 5 }',
        'tls: { cert: /nonexistent/cert.pem }',
        'colour: blue',
      ].join('\n'),
    );
    const error = configError(() =>
      loadConfig({
        file,
        env: {
          SLACK_CLIENT_SECRET: SECRET,
          SLACK_ROTATOR_BUDGET_PER_MINUTE: '601',
          SLACK_ROTATOR_SWEEP_CONCURRENCY: 'many',
          SLACK_ROTATOR_STORE: `mysql://root:${SECRET}@db/x`,
          SLACK_ROTATOR_LOCK: `memcached://u:${SECRET}@h`,
          SLACK_ROTATOR_ENCRYPTION_KEYS: `k1:${SECRET},${KEY}`,
          SLACK_ROTATOR_LISTEN: 'localhost',
          SLACK_API_URL: 'ftp://x',
          SLACK_ROTATOR_REFRESH_WINDOW_MS: String(12 * 3_600_000),
          SLACK_ROTATOR_LOG_LEVEL: 'loud',
          SLACK_ROTATOR_TEST_CLOCK: 'fast',
        },
      }),
    );
    const problems = error.details.problems as string[];
    expect(problems).toEqual(
      expect.arrayContaining([
        'SLACK_CLIENT_SECRET: cannot be used with several apps in the config file; set apps[i].clientSecret instead',
        'apps[3].clientId: missing',
        'apps[1].appId: "A1" is also apps[0].appId',
        'apps[2].appId: missing (required for each app when there are several)',
        'apps[2].stateSecret: must be at least 32 characters',
        'sweeper.budget: unknown setting',
        'colour: unknown setting',
        'tls.cert: file not found: /nonexistent/cert.pem',
        'tls.key: missing: TLS needs both a certificate and a key',
        'SLACK_ROTATOR_BUDGET_PER_MINUTE: must be an integer from 1 to 600 (Slack allows 600 oauth.v2.access calls per minute)',
        'SLACK_ROTATOR_SWEEP_CONCURRENCY: must be an integer from 1 to 1000',
        'SLACK_ROTATOR_STORE: unsupported scheme "mysql:"; use postgres://, redis://, rediss://, sqlite:<path> or a file path',
        "SLACK_ROTATOR_LOCK: must be a redis:// or rediss:// URL (or unset for the store's own lock)",
        'SLACK_ROTATOR_ENCRYPTION_KEYS: key "k1" must be 32 bytes in base64 or base64url (e.g. openssl rand -base64 32)',
        'SLACK_ROTATOR_ENCRYPTION_KEYS: entry 2 must be <key id>:<base64 key>, the id matching [A-Za-z0-9_-]{1,32}',
        'SLACK_ROTATOR_LISTEN: "localhost" must be host:port (e.g. 127.0.0.1:8787, [::1]:8787)',
        'SLACK_API_URL: must be an http:// or https:// URL',
        'SLACK_ROTATOR_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
        'SLACK_ROTATOR_TEST_CLOCK: must be <speed>@<epochMs> (e.g. 60@1767225600000); a test-only setting',
      ]),
    );
    expect(
      problems.some((p) => p.startsWith('SLACK_ROTATOR_REFRESH_WINDOW_MS: must be an integer from 0 to')),
    ).toBe(true);
    expect(problems).toHaveLength(20);
    expect(error.message).toContain(`invalid configuration (file ${file}):\n  `);
    for (const secret of [SECRET, KEY, SECRET.slice(0, 5)]) expect(error.message).not.toContain(secret);
  });

  it('names the environment variables when no app is configured, unless apps are not required', () => {
    const error = configError(() => loadConfig({ env: {} }));
    expect(error.details.problems).toEqual([
      'SLACK_CLIENT_ID: missing (or clientId / apps in the config file)',
      'SLACK_CLIENT_SECRET: missing (or clientSecret / apps in the config file)',
    ]);
    expect(loadConfig({ env: {}, requireApps: false }).apps).toEqual([]);
  });

  it('names the missing secret after the variable when the rest of the app comes from the environment', () => {
    const error = configError(() => loadConfig({ env: { SLACK_CLIENT_ID: '1.2', SLACK_APP_ID: 'a-1' } }));
    expect(error.details.problems).toEqual([
      'SLACK_APP_ID: "a-1" is not a Slack app id (A followed by capital letters and digits)',
      'SLACK_CLIENT_SECRET: missing',
    ]);
  });

  it('reports a broken or missing file without quoting it', () => {
    const file = writeConfig('broken.yaml', `clientSecret: "${SECRET}\n  nested: [\n`);
    const error = configError(() => loadConfig({ file, env: minimal }));
    expect(error.details.problems).toEqual([expect.stringMatching(/broken\.yaml: not valid YAML or JSON/)]);
    expect(error.message).not.toContain(SECRET);
    const missing = configError(() => loadConfig({ file: '/nonexistent/c.yaml', env: minimal }));
    expect(missing.details.problems).toEqual([
      '/nonexistent/c.yaml: cannot read the configuration file (ENOENT)',
    ]);
  });

  it('checks the ?prefix= of Redis URLs', () => {
    const ok = loadConfig({ env: { ...minimal, SLACK_ROTATOR_STORE: 'redis://h:6379?prefix=team-a' } });
    expect(ok.store).toEqual({ kind: 'redis', url: 'redis://h:6379?prefix=team-a' });
    const error = configError(() =>
      loadConfig({
        env: {
          ...minimal,
          SLACK_ROTATOR_STORE: 'redis://h?prefix={x}',
          SLACK_ROTATOR_LOCK: 'redis://h?prefix=a%20b',
        },
      }),
    );
    expect(error.details.problems).toEqual([
      'SLACK_ROTATOR_STORE: ?prefix= must be 1 to 100 characters without whitespace or braces',
      'SLACK_ROTATOR_LOCK: ?prefix= must be 1 to 100 characters without whitespace or braces',
    ]);
  });

  it('takes a direct LISTEN URL beside a PostgreSQL store behind PgBouncer, and only there', () => {
    const ok = loadConfig({
      env: {
        ...minimal,
        SLACK_ROTATOR_STORE: 'postgres://u@bouncer:6432/tokens',
        SLACK_ROTATOR_STORE_LISTEN: 'postgres://u@db:5432/tokens',
      },
    });
    expect(ok.store).toEqual({
      kind: 'postgres',
      url: 'postgres://u@bouncer:6432/tokens',
      listenUrl: 'postgres://u@db:5432/tokens',
    });
    const wrongStore = configError(() =>
      loadConfig({ env: { ...minimal, SLACK_ROTATOR_STORE_LISTEN: 'postgres://u@db:5432/tokens' } }),
    );
    expect(wrongStore.details.problems).toEqual([
      'SLACK_ROTATOR_STORE_LISTEN: is only for a PostgreSQL store (SLACK_ROTATOR_STORE=postgres://…)',
    ]);
    const wrongScheme = configError(() =>
      loadConfig({
        env: { ...minimal, SLACK_ROTATOR_STORE: 'postgres://h/db', SLACK_ROTATOR_STORE_LISTEN: 'redis://h' },
      }),
    );
    expect(wrongScheme.details.problems).toEqual([
      'SLACK_ROTATOR_STORE_LISTEN: must be a postgres:// URL straight to PostgreSQL (not through PgBouncer)',
    ]);
  });

  it('rejects top-level app settings mixed with apps', () => {
    const file = writeConfig(
      'mixed.yaml',
      `clientId: "1.1"\napps:\n  - { clientId: "2.2", clientSecret: x }\n`,
    );
    const error = configError(() => loadConfig({ file, env: {} }));
    expect(error.details.problems).toContain(
      'apps: cannot be combined with top-level clientId; move them into apps',
    );
  });
});

describe('data folder', () => {
  it('follows each platform', () => {
    expect(dataDir({ env: { XDG_DATA_HOME: '/x' }, platform: 'linux', home: '/h' })).toBe('/x/slack-rotator');
    expect(dataDir({ env: { XDG_DATA_HOME: 'relative' }, platform: 'linux', home: '/h' })).toBe(
      '/h/.local/share/slack-rotator',
    );
    expect(dataDir({ env: {}, platform: 'darwin', home: '/Users/u' })).toBe(
      '/Users/u/Library/Application Support/slack-rotator',
    );
    expect(
      defaultSqlitePath({ env: { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, platform: 'win32' }),
    ).toBe('C:\\Users\\u\\AppData\\Local\\slack-rotator\\tokens.db');
  });
});

describe('SETTINGS', () => {
  it('documents every environment variable loadConfig reads, once', () => {
    const envs = SETTINGS.map((s) => s.env).filter((e) => e !== undefined);
    expect(new Set(envs).size).toBe(envs.length);
    expect(envs).toEqual(
      expect.arrayContaining([
        'SLACK_CLIENT_ID',
        'SLACK_ROTATOR_BUDGET_PER_MINUTE',
        'SLACK_ROTATOR_TEST_CLOCK',
      ]),
    );
    for (const s of SETTINGS) expect(s.description.length).toBeGreaterThan(10);
    expect(SETTINGS.find((s) => s.env === 'SLACK_ROTATOR_TEST_CLOCK')?.description).toMatch(/TEST ONLY/);
    expect(SETTINGS.filter((s) => s.secret).map((s) => s.name)).toEqual(
      expect.arrayContaining(['clientSecret', 'stateSecret', 'encryptionKeys', 'store']),
    );
  });
});

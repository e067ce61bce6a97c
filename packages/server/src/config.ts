/**
 * Loads the server's configuration: a YAML or JSON file, then environment variables (which override
 * the file), then defaults. Everything is validated at once; one `ServerError('invalid_config')`
 * lists every problem, each naming the setting as the user wrote it, never a secret's value.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import {
  DEFAULT_BUDGET_PER_MINUTE,
  DEFAULT_LISTEN,
  DEFAULT_REFRESH_WINDOW_MS,
  DEFAULT_SLACK_API_URL,
  DEFAULT_SWEEP_CONCURRENCY,
  DEFAULT_SWEEP_INTERVAL_MS,
  LOG_LEVELS,
  MAX_BUDGET_PER_MINUTE,
} from './config-settings.js';
import {
  bool,
  createProblems,
  encryptionKeys,
  existingFile,
  httpUrl,
  int,
  list,
  listen,
  lockUrl,
  type Problems,
  type Raw,
  storeListenUrl,
  storeUrl,
  str,
  testClock,
} from './config-values.js';
import { defaultSqlitePath } from './data-dir.js';
import { ServerError } from './errors.js';
import type { AppConfig, ServerConfig } from './types.js';

export type { SettingInfo } from './config-settings.js';
export { SETTINGS } from './config-settings.js';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The configuration file; default: `env.SLACK_ROTATOR_CONFIG`; none: environment only. */
  file?: string | undefined;
  env: Record<string, string | undefined>;
  /** Resolves relative paths (SQLite file, TLS files, the config file). Default `process.cwd()`. */
  cwd?: string;
  /**
   * Whether at least one app (client id and secret) is required. Default `true`; commands that never
   * call Slack (`migrate`, `api-keys`, `status`) pass `false`.
   */
  requireApps?: boolean;
}

/** Slack's access tokens live 12 h; the library adds a tenth of the window as jitter. */
const TOKEN_LIFETIME_MS = 43_200_000;
const MAX_REFRESH_WINDOW_MS = Math.ceil(TOKEN_LIFETIME_MS / 1.1) - 1;
const APP_ID = /^A[A-Z0-9]{1,31}$/;
const STATE_SECRET_MIN = 32;

const APP_FIELDS = [
  ['appId', 'SLACK_APP_ID'],
  ['clientId', 'SLACK_CLIENT_ID'],
  ['clientSecret', 'SLACK_CLIENT_SECRET'],
  ['stateSecret', 'SLACK_STATE_SECRET'],
  ['scopes', 'SLACK_SCOPES'],
  ['userScopes', 'SLACK_USER_SCOPES'],
  ['redirectUri', 'SLACK_REDIRECT_URI'],
] as const;
type AppField = (typeof APP_FIELDS)[number][0];
const APP_KEYS: readonly string[] = APP_FIELDS.map(([field]) => field);
const TOP_KEYS = [
  ...APP_KEYS,
  'apps',
  'store',
  'storeListen',
  'lock',
  'encryptionKeys',
  'listen',
  'tls',
  'slackApiUrl',
  'refreshWindowMs',
  'sweeper',
  'logLevel',
  'testClock',
];
const NESTED_KEYS: Record<string, readonly string[]> = {
  tls: ['cert', 'key'],
  sweeper: ['enabled', 'intervalMs', 'concurrency', 'budgetPerMinute'],
};

type FileObject = Record<string, unknown>;

/**
 * Reads and validates the configuration.
 *
 * @example
 * const config = loadConfig({ env: process.env });
 * @throws ServerError `invalid_config` listing every problem, one per line, e.g.
 *   `SLACK_ROTATOR_BUDGET_PER_MINUTE: must be an integer from 1 to 600 (…)` or `apps[1].clientId: missing`.
 */
export function loadConfig(options: LoadConfigOptions): ServerConfig {
  const { env } = options;
  const cwd = options.cwd ?? process.cwd();
  const problems = createProblems();
  const fileName = options.file ?? nonEmpty(env.SLACK_ROTATOR_CONFIG);
  const file = fileName === undefined ? {} : readFile(resolve(cwd, fileName), problems);

  const pick = (key: string, envName: string | undefined): Raw | undefined => {
    const fromEnv = envName === undefined ? undefined : nonEmpty(env[envName]);
    if (fromEnv !== undefined && envName !== undefined)
      return { from: envName, value: fromEnv, fromEnv: true };
    const value = lookup(file, key);
    return value === undefined || value === null ? undefined : { from: key, value, fromEnv: false };
  };

  const apps = loadApps(file, env, problems, options.requireApps ?? true);

  const storeRaw = pick('store', 'SLACK_ROTATOR_STORE');
  const store =
    storeRaw === undefined
      ? { kind: 'sqlite' as const, path: defaultSqlitePath({ env }) }
      : storeUrl(storeRaw, problems, cwd);
  const listenRaw = pick('storeListen', 'SLACK_ROTATOR_STORE_LISTEN');
  const listenUrl = listenRaw === undefined ? undefined : storeListenUrl(listenRaw, store, problems);
  const lockRaw = pick('lock', 'SLACK_ROTATOR_LOCK');
  const lock = lockRaw === undefined ? { kind: 'same' as const } : lockUrl(lockRaw, problems);
  const keysRaw = pick('encryptionKeys', 'SLACK_ROTATOR_ENCRYPTION_KEYS');
  const encryption = keysRaw === undefined ? undefined : encryptionKeys(keysRaw, problems);

  const address = listen(pick('listen', 'SLACK_ROTATOR_LISTEN') ?? defaultRaw(DEFAULT_LISTEN), problems);
  const certRaw = pick('tls.cert', 'SLACK_ROTATOR_TLS_CERT');
  const keyRaw = pick('tls.key', 'SLACK_ROTATOR_TLS_KEY');
  const certFile = certRaw === undefined ? undefined : existingFile(certRaw, problems, cwd);
  const keyFile = keyRaw === undefined ? undefined : existingFile(keyRaw, problems, cwd);
  if ((certRaw === undefined) !== (keyRaw === undefined)) {
    const missing = certRaw === undefined ? certName(keyRaw) : keyName(certRaw);
    problems.add(missing, 'missing: TLS needs both a certificate and a key');
  }

  const apiRaw = pick('slackApiUrl', 'SLACK_API_URL');
  const slackApiUrl = apiRaw === undefined ? DEFAULT_SLACK_API_URL : httpUrl(apiRaw, problems);
  const windowRaw = pick('refreshWindowMs', 'SLACK_ROTATOR_REFRESH_WINDOW_MS');
  const refreshWindowMs =
    windowRaw === undefined
      ? DEFAULT_REFRESH_WINDOW_MS
      : int(
          windowRaw,
          problems,
          0,
          MAX_REFRESH_WINDOW_MS,
          " (the window plus its 10 % jitter must stay under Slack's 12 h token lifetime)",
        );

  const enabledRaw = pick('sweeper.enabled', 'SLACK_ROTATOR_SWEEP');
  const enabled = enabledRaw === undefined ? true : bool(enabledRaw, problems);
  const intervalRaw = pick('sweeper.intervalMs', 'SLACK_ROTATOR_SWEEP_INTERVAL_MS');
  const intervalMs =
    intervalRaw === undefined
      ? DEFAULT_SWEEP_INTERVAL_MS
      : int(intervalRaw, problems, 1, Number.MAX_SAFE_INTEGER);
  const concurrencyRaw = pick('sweeper.concurrency', 'SLACK_ROTATOR_SWEEP_CONCURRENCY');
  const concurrency =
    concurrencyRaw === undefined ? DEFAULT_SWEEP_CONCURRENCY : int(concurrencyRaw, problems, 1, 1000);
  const budgetRaw = pick('sweeper.budgetPerMinute', 'SLACK_ROTATOR_BUDGET_PER_MINUTE');
  const budgetPerMinute =
    budgetRaw === undefined
      ? DEFAULT_BUDGET_PER_MINUTE
      : int(
          budgetRaw,
          problems,
          1,
          MAX_BUDGET_PER_MINUTE,
          ` (Slack allows ${MAX_BUDGET_PER_MINUTE} oauth.v2.access calls per minute)`,
        );

  const levelRaw = pick('logLevel', 'SLACK_ROTATOR_LOG_LEVEL');
  let logLevel: ServerConfig['logLevel'] | undefined = 'info';
  if (levelRaw !== undefined) {
    const text = str(levelRaw, problems)?.trim().toLowerCase();
    logLevel = LOG_LEVELS.find((level) => level === text);
    if (logLevel === undefined && text !== undefined) {
      problems.add(levelRaw.from, `must be one of ${LOG_LEVELS.join(', ')}`);
    }
  }
  const clockRaw = pick('testClock', 'SLACK_ROTATOR_TEST_CLOCK');
  const clock = clockRaw === undefined ? undefined : testClock(clockRaw, problems);

  if (problems.list.length > 0) {
    const where = fileName === undefined ? '' : ` (file ${resolve(cwd, fileName)})`;
    throw new ServerError(
      'invalid_config',
      `invalid configuration${where}:\n  ${problems.list.join('\n  ')}`,
      { details: { problems: problems.list } },
    );
  }
  // Every value below is defined: each undefined one added a problem above.
  return {
    apps,
    store: (store?.kind === 'postgres' && listenUrl !== undefined
      ? { ...store, listenUrl }
      : store) as ServerConfig['store'],
    lock: lock as ServerConfig['lock'],
    encryption,
    listen: {
      ...(address as { host: string; port: number }),
      tls: certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile },
    },
    slackApiUrl: slackApiUrl as string,
    refreshWindowMs: refreshWindowMs as number,
    sweeper: {
      enabled: enabled as boolean,
      intervalMs: intervalMs as number,
      concurrency: concurrency as number,
      budgetPerMinute: budgetPerMinute as number,
    },
    logLevel: logLevel as ServerConfig['logLevel'],
    testClock: clock,
  };
}

function readFile(path: string, problems: Problems): FileObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.add(path, `cannot read the configuration file (${code})`);
    return {};
  }
  const document = parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      // Only yaml's first line: the rest quotes the file, which may hold a secret.
      const line = error.linePos?.[0];
      const at = line === undefined ? '' : ` (line ${line.line}, column ${line.col})`;
      problems.add(path, `not valid YAML or JSON${at}: ${error.message.split('\n')[0]}`);
    }
    return {};
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.add(path, 'must hold a mapping of settings (key: value)');
    return {};
  }
  const object = value as FileObject;
  checkKeys(object, TOP_KEYS, '', problems);
  for (const [key, allowed] of Object.entries(NESTED_KEYS)) {
    const nested = object[key];
    if (nested === undefined || nested === null) continue;
    if (typeof nested !== 'object' || Array.isArray(nested)) {
      problems.add(key, `must be a mapping of ${allowed.join(', ')}`);
      delete object[key];
    } else checkKeys(nested as FileObject, allowed, `${key}.`, problems);
  }
  return object;
}

function checkKeys(object: FileObject, allowed: readonly string[], prefix: string, problems: Problems): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) problems.add(`${prefix}${key}`, 'unknown setting');
  }
}

function lookup(object: FileObject, dotted: string): unknown {
  let value: unknown = object;
  for (const part of dotted.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as FileObject)[part];
  }
  return value;
}

/** One app as found in the file: its object and how its keys are named (`apps[1].` or ``). */
interface FileApp {
  object: FileObject;
  prefix: string;
}

function fileApps(file: FileObject, problems: Problems): FileApp[] {
  const topLevel = APP_KEYS.filter((key) => file[key] !== undefined && file[key] !== null);
  if (file.apps === undefined || file.apps === null) {
    return topLevel.length === 0 ? [] : [{ object: file, prefix: '' }];
  }
  if (topLevel.length > 0) {
    problems.add('apps', `cannot be combined with top-level ${topLevel.join(', ')}; move them into apps`);
  }
  if (!Array.isArray(file.apps)) {
    problems.add('apps', 'must be a list of apps');
    return [];
  }
  const apps: FileApp[] = [];
  file.apps.forEach((app: unknown, index) => {
    const prefix = `apps[${index}].`;
    if (app === null || typeof app !== 'object' || Array.isArray(app)) {
      problems.add(`apps[${index}]`, 'must be a mapping (appId, clientId, clientSecret, …)');
      return;
    }
    checkKeys(app as FileObject, APP_KEYS, prefix, problems);
    apps.push({ object: app as FileObject, prefix });
  });
  if (apps.length === 0 && file.apps.length === 0) problems.add('apps', 'must list at least one app');
  return apps;
}

function loadApps(
  file: FileObject,
  env: Record<string, string | undefined>,
  problems: Problems,
  requireApps: boolean,
): AppConfig[] {
  const found = fileApps(file, problems);
  const envSet = APP_FIELDS.filter(([, envName]) => nonEmpty(env[envName]) !== undefined);
  if (found.length > 1) {
    for (const [field, envName] of envSet) {
      problems.add(
        envName,
        `cannot be used with several apps in the config file; set apps[i].${field} instead`,
      );
    }
    const apps = found.map((app) => loadApp(app, {}, problems, true));
    checkUnique(apps, found, problems);
    return apps.filter((app): app is AppConfig => app !== undefined);
  }
  if (found.length === 0 && envSet.length === 0) {
    if (requireApps) {
      problems.add('SLACK_CLIENT_ID', 'missing (or clientId / apps in the config file)');
      problems.add('SLACK_CLIENT_SECRET', 'missing (or clientSecret / apps in the config file)');
    }
    return [];
  }
  const app = loadApp(found[0] ?? { object: {}, prefix: '' }, env, problems, false);
  return app === undefined ? [] : [app];
}

function loadApp(
  source: FileApp,
  env: Record<string, string | undefined>,
  problems: Problems,
  several: boolean,
): AppConfig | undefined {
  const raw = (field: AppField, envName: string): Raw | undefined => {
    const fromEnv = nonEmpty(env[envName]);
    if (fromEnv !== undefined) return { from: envName, value: fromEnv, fromEnv: true };
    const value = source.object[field];
    return value === undefined || value === null
      ? undefined
      : { from: `${source.prefix}${field}`, value, fromEnv: false };
  };
  // A missing field is named as the user would set it: apps[i].x in a list, else the env var.
  const missingName = (field: AppField, envName: string) =>
    source.prefix.startsWith('apps[') ? `${source.prefix}${field}` : envName;
  const values: Partial<Record<AppField, unknown>> = {};
  const invalid = new Set<AppField>();
  let ok = true;
  for (const [field, envName] of APP_FIELDS) {
    const found = raw(field, envName);
    if (found === undefined) {
      values[field] = undefined;
      continue;
    }
    const value =
      field === 'scopes' || field === 'userScopes'
        ? list(found, problems)
        : field === 'redirectUri'
          ? httpUrl(found, problems)
          : str(found, problems)?.trim();
    if (value === undefined) invalid.add(field);
    else if (field === 'appId' && !APP_ID.test(value as string)) {
      problems.add(found.from, `"${value}" is not a Slack app id (A followed by capital letters and digits)`);
      invalid.add(field);
    } else if (field === 'stateSecret' && (value as string).length < STATE_SECRET_MIN) {
      problems.add(found.from, `must be at least ${STATE_SECRET_MIN} characters`);
      invalid.add(field);
    }
    values[field] = value === '' ? undefined : value;
  }
  for (const [field, envName] of APP_FIELDS) {
    const required = field === 'clientId' || field === 'clientSecret' || (field === 'appId' && several);
    if (required && values[field] === undefined && !invalid.has(field)) {
      const hint = field === 'appId' ? ' (required for each app when there are several)' : '';
      problems.add(missingName(field, envName), `missing${hint}`);
      ok = false;
    }
  }
  if (!ok || invalid.size > 0) return undefined;
  return {
    appId: values.appId as string | undefined,
    clientId: values.clientId as string,
    clientSecret: values.clientSecret as string,
    stateSecret: values.stateSecret as string | undefined,
    scopes: (values.scopes as string[] | undefined) ?? [],
    userScopes: (values.userScopes as string[] | undefined) ?? [],
    redirectUri: values.redirectUri as string | undefined,
  };
}

function checkUnique(apps: (AppConfig | undefined)[], found: FileApp[], problems: Problems): void {
  for (const field of ['appId', 'clientId'] as const) {
    const seen = new Map<string, number>();
    apps.forEach((app, index) => {
      const value = app?.[field];
      if (value === undefined) return;
      const first = seen.get(value);
      if (first === undefined) seen.set(value, index);
      else problems.add(`${found[index]?.prefix}${field}`, `"${value}" is also apps[${first}].${field}`);
    });
  }
}

function certName(keyRaw: Raw | undefined): string {
  return keyRaw?.fromEnv ? 'SLACK_ROTATOR_TLS_CERT' : 'tls.cert';
}

function keyName(certRaw: Raw | undefined): string {
  return certRaw?.fromEnv ? 'SLACK_ROTATOR_TLS_KEY' : 'tls.key';
}

function defaultRaw(value: string): Raw {
  return { from: 'default', value, fromEnv: false };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * The checks of `doctor` that talk to the outside: the clock of the database or Redis, and Slack.
 * Each resolves to a result line's content; none throws.
 */
import { randomBytes } from 'node:crypto';
import { describeUrl } from '../backends-open.js';
import { formatDuration } from '../table.js';
import type { AppConfig, ServerConfig } from '../types.js';

/** One check's outcome: `ok   <name>` or `FAIL <name>: <explanation>`. */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** One line: what is wrong and what to do (for a failure), or a detail (for a success). */
  detail?: string;
}

/** Slack's access tokens live 12 h; a clock off by 1/360 of that (2 min) skews refresh timing noticeably. */
export const MAX_CLOCK_SKEW_MS = 43_200_000 / 360;
const TIMEOUT_MS = 10_000;

/** The other clock's reading (epoch ms), and the round trip it took. */
async function remoteTime(
  config: ServerConfig,
): Promise<{ source: string; at: number; rttMs: number } | undefined> {
  const redisUrl =
    config.lock.kind === 'redis'
      ? config.lock.url
      : config.store.kind === 'redis'
        ? config.store.url
        : undefined;
  if (config.store.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: config.store.url, connectionTimeoutMillis: TIMEOUT_MS });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const sent = Date.now();
      const result = await client.query<{ ms: string }>(
        'SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint::text AS ms',
      );
      const rttMs = Date.now() - sent;
      return {
        source: `PostgreSQL ${describeUrl(config.store.url)}`,
        at: Number(result.rows[0]?.ms),
        rttMs: rttMs,
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (redisUrl !== undefined) {
    const { Redis } = await import('ioredis');
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: TIMEOUT_MS,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const sent = Date.now();
      const [seconds, micros] = await client.time();
      const rttMs = Date.now() - sent;
      return {
        source: `Redis ${describeUrl(redisUrl)}`,
        at: Number(seconds) * 1000 + Math.floor(Number(micros) / 1000),
        rttMs,
      };
    } finally {
      client.disconnect();
    }
  }
  return undefined;
}

/** Compares this machine's clock with the database's or Redis's (`TIME`). */
export async function checkClock(config: ServerConfig): Promise<CheckResult> {
  const name = 'clock';
  try {
    const remote = await remoteTime(config);
    if (remote === undefined) {
      return { name, ok: true, detail: "embedded SQLite: this machine's clock is the only one" };
    }
    // The remote instant lies somewhere inside the round trip; its middle is the best guess.
    const skew = Date.now() - remote.rttMs / 2 - remote.at;
    const off = `${formatDuration(skew)} ${skew > 0 ? 'ahead of' : 'behind'} ${remote.source}`;
    if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
      return {
        name,
        ok: false,
        detail: `this machine's clock is ${off} (more than ${formatDuration(MAX_CLOCK_SKEW_MS)}): sync both with NTP (timedatectl status)`,
      };
    }
    return {
      name,
      ok: true,
      detail: `within ${formatDuration(Math.max(Math.abs(skew), 1000))} of ${remote.source}`,
    };
  } catch (error) {
    return {
      name,
      ok: false,
      detail: `could not read the database's clock (${errorText(error)}): see the store check`,
    };
  }
}

/** The most telling code in an error, its causes and an AggregateError's errors (`ECONNREFUSED`). */
function errorText(error: unknown): string {
  const seen: unknown[] = [error];
  for (let index = 0; index < seen.length && index < 16; index++) {
    const current = seen[index] as { code?: unknown; cause?: unknown; errors?: unknown } | undefined;
    if (typeof current?.code === 'string') return current.code;
    if (current?.cause !== undefined) seen.push(current.cause);
    if (Array.isArray(current?.errors)) seen.push(...current.errors);
  }
  // No code: the innermost message says most (fetch's own is only "fetch failed").
  const innermost = seen.findLast((candidate) => candidate instanceof Error);
  return innermost instanceof Error ? innermost.message : 'error';
}

async function post(url: string, init: RequestInit): Promise<Response> {
  return fetch(url, { ...init, method: 'POST', signal: AbortSignal.timeout(TIMEOUT_MS) });
}

/** Slack answers over HTTP at all (`api.test` needs no token). */
export async function checkSlackReachable(config: ServerConfig): Promise<CheckResult> {
  const name = 'slack reachable';
  try {
    const response = await post(new URL('api.test', config.slackApiUrl).href, {});
    await response.body?.cancel();
    return { name, ok: true, detail: `${describeUrl(config.slackApiUrl)} answered HTTP ${response.status}` };
  } catch (error) {
    return {
      name,
      ok: false,
      detail: `no answer from ${describeUrl(config.slackApiUrl)} (${errorText(error)}): check DNS, the proxy and outbound HTTPS`,
    };
  }
}

/**
 * The app's client id and secret, with one harmless call: `oauth.v2.access` with a made-up code.
 * Slack answers `invalid_code` when the credentials are right and `invalid_client_id` /
 * `bad_client_secret` when they are not; nothing is created or spent.
 * @see https://docs.slack.dev/reference/methods/oauth.v2.access
 */
export async function checkSlackCredentials(config: ServerConfig, app: AppConfig): Promise<CheckResult> {
  const label = app.appId ?? `client ${app.clientId}`;
  const name = `slack credentials (${label})`;
  try {
    const basic = Buffer.from(
      `${encodeURIComponent(app.clientId)}:${encodeURIComponent(app.clientSecret)}`,
    ).toString('base64');
    const response = await post(new URL('oauth.v2.access', config.slackApiUrl).href, {
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        code: `slack-rotator-doctor-${randomBytes(8).toString('hex')}`,
      }).toString(),
    });
    const body = (await response.json().catch(() => undefined)) as
      | { ok?: unknown; error?: unknown }
      | undefined;
    const error = typeof body?.error === 'string' ? body.error : undefined;
    if (error === 'invalid_code') return { name, ok: true };
    const where = app.appId === undefined ? '' : ` of app ${app.appId}`;
    switch (error) {
      case 'invalid_client_id':
        return {
          name,
          ok: false,
          detail: `Slack does not know client id ${app.clientId}: copy it from the app's Basic Information page into SLACK_CLIENT_ID (or clientId)`,
        };
      case 'bad_client_secret':
        return {
          name,
          ok: false,
          detail: `Slack refused the client secret${where} (bad_client_secret): copy it from the app's Basic Information page into SLACK_CLIENT_SECRET (or clientSecret)`,
        };
      default:
        return {
          name,
          ok: false,
          detail: `unexpected answer to oauth.v2.access (HTTP ${response.status}, ${error ?? 'no error code'}): check SLACK_API_URL and try again`,
        };
    }
  } catch (error) {
    return {
      name,
      ok: false,
      detail: `Slack could not be reached (${errorText(error)})`,
    };
  }
}

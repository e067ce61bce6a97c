import { createNodeHttp, type HttpAnswer, sendWithFetch } from './node-http.js';

/**
 * Sends one form-encoded POST to a Slack Web API method and says what came back, without judging
 * it. No retries here: the engine owns the retry policy.
 */

/** How the app's client credentials are sent: HTTP Basic (Slack's recommendation) or form fields. */
export type ClientAuthMethod = 'basic' | 'form';

export interface TransportOptions {
  /** Base URL ending in `/api/`. */
  slackApiUrl: string;
  /** A `fetch` to send with; `undefined`: `node:http(s)` with keep-alive agents (see node-http.ts). */
  fetch: typeof globalThis.fetch | undefined;
  /** How long to wait for an answer before calling the outcome ambiguous (ms). */
  timeoutMs: number;
  /**
   * How long a timed-out request is still read in the background, so that a late `ok: true`
   * answer (Slack may have rotated) is not lost (ms). After that it is aborted.
   */
  lateAnswerMs: number;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  method: ClientAuthMethod;
}

/** How a request authenticates: the app's client credentials, or a token (`Bearer`). */
export type RequestAuth = ClientCredentials | { bearer: string };

/** What one request produced. */
export type RawResult =
  | { kind: 'json'; status: number; body: Record<string, unknown>; retryAfterMs: number | undefined }
  | { kind: 'not_json'; status: number; contentType: string | null }
  | { kind: 'network'; cause: unknown }
  | {
      kind: 'timeout';
      /** Settles with the answer if it still arrives within `lateAnswerMs`. Never rejects. */
      late: Promise<RawResult>;
    };

/** Parses `Retry-After` (seconds, or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Builds the request for `method` (kept apart from sending, so it can be inspected in tests). */
export function buildRequest(
  options: Pick<TransportOptions, 'slackApiUrl'>,
  method: string,
  params: Record<string, string>,
  auth: RequestAuth | undefined,
): { url: string; headers: Record<string, string>; body: string } {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (auth !== undefined && 'bearer' in auth) {
    headers.authorization = `Bearer ${auth.bearer}`;
  } else if (auth?.method === 'basic') {
    const pair = `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else if (auth?.method === 'form') {
    body.set('client_id', auth.clientId);
    body.set('client_secret', auth.clientSecret);
  }
  return { url: new URL(method, options.slackApiUrl).href, headers, body: body.toString() };
}

async function read(response: HttpAnswer, now: () => number): Promise<RawResult> {
  const contentType = response.header('content-type');
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: 'not_json', status: response.status, contentType };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { kind: 'not_json', status: response.status, contentType };
  }
  return {
    kind: 'json',
    status: response.status,
    body: body as Record<string, unknown>,
    retryAfterMs: parseRetryAfter(response.header('retry-after'), now()),
  };
}

/** Tracks requests still being read, so `close()` can abort them. */
export interface Transport {
  send(method: string, params: Record<string, string>, auth?: RequestAuth): Promise<RawResult>;
  close(): void;
}

/** Creates the transport. `now` is only used to interpret `Retry-After` dates. */
export function createTransport(options: TransportOptions, now: () => number): Transport {
  const inFlight = new Set<AbortController>();
  const own = options.fetch === undefined ? createNodeHttp() : undefined;
  const sendHttp = own?.send ?? sendWithFetch(options.fetch ?? globalThis.fetch);

  async function send(
    method: string,
    params: Record<string, string>,
    auth?: RequestAuth,
  ): Promise<RawResult> {
    const { url, headers, body } = buildRequest(options, method, params, auth);
    const controller = new AbortController();
    inFlight.add(controller);
    const hardStop = setTimeout(() => controller.abort(), options.timeoutMs + options.lateAnswerMs);
    hardStop.unref?.();
    const answer: Promise<RawResult> = sendHttp(url, { headers, body, signal: controller.signal })
      .then((response) => read(response, now))
      .catch((cause: unknown): RawResult => ({ kind: 'network', cause }))
      .finally(() => {
        clearTimeout(hardStop);
        inFlight.delete(controller);
      });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<RawResult>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout', late: answer }), options.timeoutMs);
      timer.unref?.();
    });
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    send,
    close() {
      for (const controller of inFlight) controller.abort();
      inFlight.clear();
      own?.close();
    },
  };
}

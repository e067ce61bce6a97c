import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  createFaultPlanner,
  type FaultKind,
  type FaultRates,
  type InjectFaultOptions,
  type Latency,
} from './fake-slack-faults.js';
import { answerFault, parseBasic, parseParams, readBody, sendHtml, sendJson } from './fake-slack-http.js';
import { createMethods } from './fake-slack-methods.js';
import { type FakeSlackOptions, resolveOptions } from './fake-slack-options.js';
import { createFakeSlackState } from './fake-slack-state.js';
import type {
  AccessTokenStatus,
  ChainState,
  ConfigToken,
  InstallResponse,
  InstallSpec,
  RefreshTokenStatus,
} from './fake-slack-types.js';

export type { FaultKind, FaultRates, InjectFaultOptions, Latency } from './fake-slack-faults.js';
export type { FakeSlackOptions } from './fake-slack-options.js';
export type {
  AccessTokenStatus,
  ChainState,
  ConfigToken,
  InstallResponse,
  InstallSpec,
  NamedId,
  RefreshTokenStatus,
} from './fake-slack-types.js';

/** One call the fake Slack received. */
export interface CallRecord {
  /** The Web API method, e.g. `'oauth.v2.access'` (the path, when it is not `/api/<method>`). */
  method: string;
  /** When it was processed, by the fake's clock (epoch ms). */
  at: number;
  /** The HTTP status answered; 0 when the connection was destroyed instead. */
  status: number;
  /** The `grant_type` argument, when one was sent. */
  grantType?: string;
  /** How client credentials were sent. */
  clientAuth: 'basic' | 'form' | 'none';
  /** The refresh token presented (test infrastructure only — never print it). */
  refreshToken?: string;
  /** True when this refresh token had already been presented in an earlier call. */
  duplicate: boolean;
  /** `'ok'`, Slack's error code (e.g. `'invalid_refresh_token'`), or `` `fault:${FaultKind}` ``. */
  outcome: string;
  /** The chain concerned, when known. */
  chainId?: string;
}

/**
 * A fake Slack Web API on `127.0.0.1`: `oauth.v2.access` (authorization_code and refresh_token
 * grants), `oauth.v2.exchange`, `tooling.tokens.rotate`, `auth.test`, `chat.postMessage` and
 * `auth.revoke`, with Slack's token rotation semantics, faults and latency.
 * @see https://docs.slack.dev/authentication/using-token-rotation
 */
export interface FakeSlack {
  /** `'http://127.0.0.1:<port>/api/'` (trailing slash): pass it as the Slack API URL. */
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly appId: string;
  /**
   * Creates a bot chain (and a user chain when `userScopes` is non-empty or `withUserToken` is set)
   * and returns the `oauth.v2.access` install answer exactly as Slack shapes it.
   * @throws TypeError (`ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE`) for an invalid spec.
   */
  install(spec?: InstallSpec): InstallResponse;
  /** Registers an install to be returned by the `authorization_code` grant; returns the single-use code. */
  createAuthorizationCode(spec?: InstallSpec): string;
  /** A legacy long-lived token (`xoxb-…` or `xoxp-…`) that `oauth.v2.exchange` can turn into a chain once. */
  createLegacyToken(spec: {
    teamId: string;
    enterpriseId?: string;
    userId?: string;
    kind: 'bot' | 'user';
  }): string;
  /** An app configuration token pair, as the App Config page gives it (`iat`/`exp` in epoch seconds). */
  createConfigToken(spec: { teamId: string; userId: string }): ConfigToken;
  /**
   * Makes the next `count` (default 1) calls of `method` (default `'oauth.v2.access'`, any grant) fail
   * with `kind`. Injected faults come before random ones, first injected first used.
   */
  injectFault(kind: FaultKind, options?: InjectFaultOptions): void;
  /** Replaces the random fault rates (they apply to refresh calls only). */
  setFaults(rates: FaultRates): void;
  /** Replaces the latency. */
  setLatency(latency: Latency): void;
  /** Every call received, in order (a frozen snapshot, taken when read). */
  readonly calls: readonly CallRecord[];
  /**
   * Where a refresh token stands, without spending it: `'active'` (not spent yet), `'grace'` (spent,
   * still accepted), `'dead'` (would be refused), `'unknown'`.
   */
  peekRefreshToken(token: string): RefreshTokenStatus;
  /** Where an access token stands: `'active'`, `'expired'`, `'revoked'` or `'unknown'`. */
  peekAccessToken(token: string): AccessTokenStatus;
  /** The state of the chain a token (access, refresh or exchanged legacy token, any generation) belongs to. */
  chainOf(token: string): ChainState | undefined;
  /** Every chain, in creation order. */
  chains(): ChainState[];
  /**
   * Revokes every token of the chain `token` belongs to, as an uninstall would.
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) when the token belongs to no chain.
   */
  revokeChain(token: string): void;
  /** Stops the server and destroys open connections (keep-alive ones included). Idempotent. */
  close(): Promise<void>;
}

const REFRESH_METHODS = new Set(['oauth.v2.access', 'tooling.tokens.rotate']);

/**
 * Starts a fake Slack on `127.0.0.1`, on a free port.
 *
 * @example
 * ```ts
 * const slack = await createFakeSlack({ expiresInSeconds: 2, refreshGraceMs: 200 });
 * const install = slack.install({ teamId: 'T1' });
 * // … point the rotator at slack.url, then:
 * expect(slack.chainOf(install.refresh_token)?.forks).toBe(0);
 * await slack.close();
 * ```
 * @throws TypeError (`ERR_INVALID_ARG_VALUE` / `ERR_INVALID_ARG_TYPE`) for invalid options.
 */
export async function createFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const settings = resolveOptions(options);
  const { clientId, clientSecret, appId, now } = settings;
  const planner = createFaultPlanner({
    rates: settings.faults,
    latency: settings.latency,
    seed: settings.seed,
  });
  const state = createFakeSlackState(settings);
  const calls: CallRecord[] = [];
  let callsView: readonly CallRecord[] | undefined;
  const sockets = new Set<Socket>();
  const sleepers = new Set<() => void>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  const dispatch = createMethods({ state, clientId, clientSecret, appId, now });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const method = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname)?.[1] ?? url.pathname;
    const delayMs = planner.nextLatencyMs();
    if (delayMs > 0) await sleep(delayMs);
    if (closed) return;

    const authorization = req.headers.authorization;
    const basic = parseBasic(authorization);
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    const params = raw === undefined ? undefined : parseParams(url, req.headers['content-type'], raw);
    const clientAuth = basic !== undefined ? 'basic' : params?.client_id !== undefined ? 'form' : 'none';
    const record: CallRecord = {
      method,
      at: now(),
      status: 200,
      clientAuth,
      duplicate: false,
      outcome: 'ok',
    };
    const finish = (status: number, outcome: string, chainId: string | undefined) => {
      record.status = status;
      record.outcome = outcome;
      if (chainId !== undefined) record.chainId = chainId;
      calls.push(record);
      callsView = undefined;
    };

    if (params === undefined) {
      finish(
        raw === undefined ? 413 : 200,
        raw === undefined ? 'request_too_large' : 'invalid_json',
        undefined,
      );
      sendJson(res, record.status, { ok: false, error: record.outcome });
      return;
    }
    if (params.grant_type !== undefined) record.grantType = params.grant_type;

    const refreshCall =
      REFRESH_METHODS.has(method) &&
      (method === 'tooling.tokens.rotate' || params.grant_type === 'refresh_token') &&
      params.refresh_token !== undefined &&
      params.refresh_token !== '';
    let chainId: string | undefined;
    if (refreshCall && params.refresh_token !== undefined) {
      record.refreshToken = params.refresh_token;
      const presentation = state.presentRefreshToken(params.refresh_token);
      record.duplicate = presentation.duplicate;
      chainId = presentation.chainId;
    }

    const fault = planner.next(method, refreshCall);
    const performs =
      fault === undefined || fault.kind === 'rotate_then_drop' || fault.kind === 'rotate_then_500';
    const answer = performs ? dispatch({ method, params, basic, bearer }) : undefined;
    const chain = answer?.chainId ?? chainId;
    if (fault !== undefined) {
      finish(answerFault(req, res, fault), `fault:${fault.kind}`, chain);
      return;
    }
    if (answer === undefined) return;
    finish(answer.status, answer.body.ok ? 'ok' : String(answer.body.error), chain);
    sendJson(res, answer.status, answer.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // A failure of the fake itself: answer something a client can see rather than hang.
      if (!res.headersSent) sendHtml(res, 500, '500 Fake Slack Failure');
      else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/api/`,
    clientId,
    clientSecret,
    appId,
    install: (spec = {}) => state.install(spec),
    createAuthorizationCode: (spec = {}) => state.createAuthorizationCode(spec),
    createLegacyToken: (spec) => state.createLegacyToken(spec),
    createConfigToken: (spec) => state.createConfigToken(spec),
    injectFault: (kind, injectOptions) => planner.inject(kind, injectOptions),
    setFaults: (rates) => planner.setRates(rates),
    setLatency: (latency) => planner.setLatency(latency),
    get calls() {
      callsView ??= Object.freeze(calls.map((call) => Object.freeze({ ...call })));
      return callsView;
    },
    peekRefreshToken: (token) => state.peekRefreshToken(token),
    peekAccessToken: (token) => state.peekAccessToken(token),
    chainOf: (token) => state.chainOf(token),
    chains: () => state.chains(),
    revokeChain: (token) => state.revokeChain(token),
    close() {
      if (closing !== undefined) return closing;
      closed = true;
      closing = new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const wake of sleepers) wake();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

import type { ChainKeyInput } from '../chain.js';
import { invalidArgument } from '../errors.js';
import type { GetTokenOptions, Rotator } from '../rotator.js';

/**
 * The part of a `@slack/web-api` `WebClient` the wrapper relies on: `apiCall(method, options)`,
 * which sends `options.token` as the call's bearer token. Any `WebClient` from major 6 to 8 fits;
 * the library never imports `@slack/web-api` itself.
 */
export interface WebClientLike {
  apiCall(method: string, options?: Record<string, unknown>): Promise<unknown>;
}

/** A `WebClient` constructor (`new WebClient(token, options)`), for {@link createRotatingClient}. */
export type WebClientConstructor<C extends WebClientLike = WebClientLike, O = never> = new (
  token?: string,
  options?: O,
) => C;

/** What every variant of {@link createRotatingClient} takes besides the client. */
export interface RotatingClientBase {
  /** The rotator that owns the installation's chain (only `withToken` is used). */
  rotator: Pick<Rotator, 'withToken'>;
  /** The chain the calls use: `{ teamId }`, `{ enterpriseId, isEnterpriseInstall: true }`, `chain: { userId }`… */
  key: ChainKeyInput;
  /** Passed to `rotator.withToken`: the token must stay valid at least this long (ms). */
  minValidityMs?: number;
}

/** Wrap a `WebClient` the caller built. */
export interface RotatingClientOptions<C extends WebClientLike> extends RotatingClientBase {
  /** Your own `WebClient`, built without a token (a static token is overridden on every call anyway). */
  client: C;
}

/** Build a `WebClient` from its constructor and options, then wrap it. */
export interface RotatingClientBuildOptions<C extends WebClientLike, O> extends RotatingClientBase {
  /** The `WebClient` class of `@slack/web-api` (passed in, so this library does not import it). */
  WebClient: WebClientConstructor<C, O>;
  /** Its options (`slackApiUrl`, `retryConfig`, `logger`…); it is built with no token. */
  clientOptions?: O;
}

/**
 * Methods that never get the installation's token: they authenticate with the app's client
 * credentials, an app-level (`xapp-`) token or an app configuration token.
 */
const FOREIGN_TOKEN_METHODS = [
  'oauth.',
  'openid.connect.token',
  'tooling.tokens.rotate',
  'apps.connections.open',
  'apps.event.authorizations.list',
  'apps.manifest.',
];

function usesForeignToken(method: string): boolean {
  return FOREIGN_TOKEN_METHODS.some((prefix) =>
    prefix.endsWith('.') ? method.startsWith(prefix) : method === prefix,
  );
}

function hasOwnToken(options: unknown): boolean {
  if (typeof options !== 'object' || options === null) return false;
  const token = (options as { token?: unknown }).token;
  return typeof token === 'string' && token !== '';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';

function checkBase(options: RotatingClientBase): void {
  const { rotator, key, minValidityMs } = options;
  if (typeof rotator !== 'object' || rotator === null || typeof rotator.withToken !== 'function') {
    throw invalidArgument(
      'createRotatingClient needs a rotator (from createRotator)',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  if (typeof key !== 'object' || key === null) {
    throw invalidArgument('key must be an object such as { teamId }', 'ERR_INVALID_ARG_TYPE');
  }
  if (!isNonEmptyString(key.teamId) && !isNonEmptyString(key.enterpriseId)) {
    throw invalidArgument('key needs teamId or enterpriseId');
  }
  const chain = key.chain;
  if (
    chain !== undefined &&
    chain !== 'bot' &&
    !(typeof chain === 'object' && chain !== null && isNonEmptyString(chain.userId))
  ) {
    throw invalidArgument("key.chain must be 'bot' or { userId }", 'ERR_INVALID_ARG_TYPE');
  }
  if (
    minValidityMs !== undefined &&
    (typeof minValidityMs !== 'number' || !Number.isFinite(minValidityMs) || minValidityMs < 0)
  ) {
    throw invalidArgument('minValidityMs must be a non-negative number of milliseconds');
  }
}

/**
 * Wraps your `@slack/web-api` `WebClient` for one installation: every Web API call —
 * `client.chat.postMessage(…)`, `client.apiCall(…)`, `client.paginate(…)`, `client.filesUploadV2(…)`
 * — runs inside `rotator.withToken`, so it carries a fresh token and, on `token_expired`, is retried
 * once after a single refresh (never a loop). The result has the type of your client.
 *
 * - Refreshes go through the rotator's own transport (one request, its own bounded retries), never
 *   through the `WebClient`: its request queue and `retryConfig` (by default 10 retries over about
 *   30 minutes, for network errors, HTTP 5xx and 429) never delay a refresh. A platform error such as
 *   `token_expired` (HTTP 200, `ok: false`) is never retried by the `WebClient` itself, so the
 *   wrapper sees it at once.
 * - A call that passes its own `token`, and the methods that use no installation token (`oauth.*`,
 *   `openid.connect.token`, `tooling.tokens.rotate`, `apps.connections.open`,
 *   `apps.event.authorizations.list`, `apps.manifest.*`), go to the client untouched.
 * - Everything else (`on`, `logger`, `slackApiUrl`…) is the client's own.
 *
 * @example
 * ```ts
 * import { WebClient } from '@slack/web-api';
 * import { createRotatingClient } from 'slack-rotator/web-api';
 * const web = createRotatingClient({ client: new WebClient(), rotator, key: { teamId: 'T0123' } });
 * await web.chat.postMessage({ channel: 'C0123', text: 'nightly report' });
 * ```
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for invalid options.
 */
export function createRotatingClient<C extends WebClientLike>(options: RotatingClientOptions<C>): C;
/**
 * Builds a `WebClient` (with no token) from the constructor you pass, then wraps it as above.
 * @example
 * ```ts
 * const web = createRotatingClient({ WebClient, clientOptions: { retryConfig: { retries: 2 } }, rotator, key });
 * ```
 */
export function createRotatingClient<C extends WebClientLike, O>(
  options: RotatingClientBuildOptions<C, O>,
): C;
export function createRotatingClient<C extends WebClientLike, O>(
  options: RotatingClientOptions<C> | RotatingClientBuildOptions<C, O>,
): C {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('createRotatingClient needs { client, rotator, key }', 'ERR_INVALID_ARG_TYPE');
  }
  checkBase(options);
  let client: C;
  if ('client' in options && options.client !== undefined) {
    client = options.client;
  } else if ('WebClient' in options && typeof options.WebClient === 'function') {
    client = new options.WebClient(undefined, options.clientOptions);
  } else {
    throw invalidArgument(
      'createRotatingClient needs a client or a WebClient constructor',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  if (typeof client !== 'object' || client === null || typeof client.apiCall !== 'function') {
    throw invalidArgument('client must be a @slack/web-api WebClient (with apiCall)', 'ERR_INVALID_ARG_TYPE');
  }
  return wrap(client, options);
}

/** The function `@slack/web-api` binds for every method of its tree (`self.apiCall.bind(self, method)`). */
const isBoundApiCall = (fn: Function) => fn.name === 'bound apiCall';
/** `files.uploadV2` is bound to `filesUploadV2`, which needs the token in its options for the upload itself. */
const isBoundUpload = (fn: Function) => fn.name === 'bound filesUploadV2';

function wrap<C extends WebClientLike>(client: C, base: RotatingClientBase): C {
  const { rotator, key } = base;
  const tokenOptions: GetTokenOptions | undefined =
    base.minValidityMs === undefined ? undefined : { minValidityMs: base.minValidityMs };

  function invoke<T>(method: string, options: unknown, call: (options: unknown) => Promise<T>): Promise<T> {
    if (options !== undefined && (typeof options !== 'object' || options === null)) return call(options);
    if (usesForeignToken(method) || hasOwnToken(options)) return call(options);
    return rotator.withToken(
      key,
      (token) => call({ ...(options as object | undefined), token }),
      tokenOptions,
    );
  }

  const target = client as unknown as Record<string, unknown> & WebClientLike;
  const upload = (options: unknown) =>
    invoke('files.uploadV2', options, (o) =>
      (target.filesUploadV2 as (o: unknown) => Promise<unknown>).call(target, o),
    );
  const leaves = new WeakMap<Function, Function>();
  const namespaces = new WeakMap<object, object>();

  function leafOf(method: string, fn: Function): Function {
    let leaf = leaves.get(fn);
    if (leaf === undefined) {
      leaf = isBoundUpload(fn) ? upload : (options?: unknown) => invoke(method, options, (o) => fn(o));
      leaves.set(fn, leaf);
    }
    return leaf;
  }

  /** A view of one method namespace (`chat`, `admin.users`…) whose methods carry the token. */
  function namespaceOf(object: Record<string, unknown>, path: string): object {
    let view = namespaces.get(object);
    if (view === undefined) {
      view = new Proxy(object, {
        get(inner, prop) {
          const value = Reflect.get(inner, prop, inner);
          if (typeof prop !== 'string') return value;
          if (typeof value === 'function' && (isBoundApiCall(value) || isBoundUpload(value))) {
            return leafOf(`${path}.${prop}`, value);
          }
          return isPlainObject(value) ? namespaceOf(value, `${path}.${prop}`) : value;
        },
      });
      namespaces.set(object, view);
    }
    return view;
  }

  const bound = new WeakMap<Function, Function>();
  const apiCall = (method: string, options?: Record<string, unknown>) =>
    invoke(method, options, (o) => target.apiCall(method, o as Record<string, unknown> | undefined));

  const proxy: C = new Proxy(client, {
    get(inner, prop) {
      if (prop === 'apiCall') return apiCall;
      if (prop === 'filesUploadV2') return upload;
      const value = Reflect.get(inner, prop, inner);
      if (typeof value === 'function') {
        // paginate and chatStream call this.apiCall / this.chat.* page by page: give them the
        // wrapper, so every page carries a fresh token. Anything else runs on the client itself.
        let fn = bound.get(value);
        if (fn === undefined) {
          fn = (value as Function).bind(
            prop === 'paginate' || prop === 'chatStream' ? proxy : inner,
          ) as Function;
          bound.set(value, fn);
        }
        return fn;
      }
      return typeof prop === 'string' && isPlainObject(value) ? namespaceOf(value, prop) : value;
    },
  });
  return proxy;
}

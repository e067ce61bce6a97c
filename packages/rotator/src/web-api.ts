/**
 * `slack-rotator/web-api`: your own `@slack/web-api` `WebClient`, wrapped for one installation so
 * that every call carries a fresh token and is retried once after a refresh on `token_expired`.
 * The library never imports `@slack/web-api`: it works through the client (or the constructor) you
 * pass in.
 *
 * @example
 * import { WebClient } from '@slack/web-api';
 * import { createRotatingClient } from 'slack-rotator/web-api';
 * const web = createRotatingClient({ client: new WebClient(), rotator, key: { teamId: 'T0123' } });
 * await web.chat.postMessage({ channel: 'C0123', text: 'hello' });
 *
 * @module
 */
export type {
  RotatingClientBase,
  RotatingClientBuildOptions,
  RotatingClientOptions,
  WebClientConstructor,
  WebClientLike,
} from './web-api/rotating-client.js';
export { createRotatingClient } from './web-api/rotating-client.js';

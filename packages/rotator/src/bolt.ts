/**
 * `slack-rotator/bolt`: fresh, safely rotated tokens for a [Bolt](https://docs.slack.dev/tools/bolt-js/)
 * app. Use `createAuthorize` with your own install flow, or `createInstallationStore` with Bolt's
 * built-in OAuth; add the revocation listeners either way. `@slack/bolt` and `@slack/oauth` are
 * optional peer dependencies this module never imports.
 *
 * @example
 * import { App } from '@slack/bolt';
 * import { createAuthorize, registerRevocationListeners } from 'slack-rotator/bolt';
 * const app = new App({ signingSecret, authorize: createAuthorize(rotator) });
 * registerRevocationListeners(app, rotator, { store });
 *
 * @module
 */
export type { AuthorizeOptions } from './bolt/authorize.js';
export { createAuthorize } from './bolt/authorize.js';
export type { InstallationStoreOptions } from './bolt/installation-store.js';
export { createInstallationStore } from './bolt/installation-store.js';
export type { MarkRevoked, RevocationHandlers, RevocationOptions } from './bolt/revocation.js';
export { createRevocationHandlers, registerRevocationListeners } from './bolt/revocation.js';
export type {
  Authorize,
  AuthorizeResult,
  AuthorizeSource,
  BoltEventRegistry,
  FetchedInstallation,
  OAuthInstallation,
  OAuthInstallationQuery,
  OAuthInstallationStore,
  OAuthPlace,
  RevocationContext,
  RevocationEventArgs,
} from './bolt/types.js';

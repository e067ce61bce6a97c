/** What every route of the broker works with. */
import type { Rotator } from 'slack-rotator';
import { appFor, type ParsedInstallationId, parseInstallationId } from '../installation-id.js';
import type { ApiKeyRecord, AppConfig, Backends } from '../types.js';
import type { Authenticator } from './auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API key (routes under `/v1` only). */
    apiKey: ApiKeyRecord;
  }
}

export interface BrokerContext {
  backends: Backends;
  auth: Authenticator;
  /** Slack's Web API base URL, with a trailing slash. */
  slackApiUrl: string;
  fetch: typeof globalThis.fetch;
}

/** An installation id from a path, resolved to its app. */
export interface ResolvedInstallation {
  /** The id as the client spelled it (and as keys list it). */
  raw: string;
  parsed: ParsedInstallationId;
  app: { config: AppConfig; rotator: Rotator };
}

/**
 * Parses an installation id, checks that `key` may use it, then finds its app — in that order, so
 * a key learns nothing about installations or apps it may not use (a malformed id reveals nothing).
 * @throws ServerError `invalid_installation_id`, `forbidden`, `unknown_app`
 */
export function resolveInstallation(
  backends: Backends,
  raw: string,
  authorize: (raw: string) => void,
): ResolvedInstallation {
  const parsed = parseInstallationId(raw);
  authorize(raw);
  return { raw, parsed, app: appFor(backends.apps, parsed) };
}

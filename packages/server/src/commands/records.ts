/**
 * How the CLI names and pages through stored chains: installation ids as the broker spells them,
 * chain names as `--chain` takes them, and the apps `--app` selects.
 */
import type { TokenRecord, TokenStore } from 'slack-rotator';
import { ServerError } from '../errors.js';
import { formatInstallationId } from '../installation-id.js';
import type { AppConfig, ServerConfig } from '../types.js';

/** `bot`, `user:U…` or `config:U…`: a chain as `refresh --chain` and the HTTP API name it. */
export function chainName(record: Pick<TokenRecord, 'kind' | 'userId'>): string {
  return record.kind === 'bot' ? 'bot' : `${record.kind}:${record.userId ?? '?'}`;
}

/** The installation id of a record, prefixed with its app id when several apps are configured. */
export function installationIdOf(record: TokenRecord, config: ServerConfig): string {
  const app = config.apps.find((candidate) => candidate.clientId === record.clientId);
  return formatInstallationId(record.installationId, app?.appId ?? record.appId, config.apps.length > 1);
}

/** The configured apps `--app` names (all of them when none is named). */
export function selectApps(config: ServerConfig, appIds: readonly string[] | undefined): AppConfig[] {
  if (appIds === undefined || appIds.length === 0) return config.apps;
  return appIds.map((appId) => {
    const app = config.apps.find((candidate) => candidate.appId === appId);
    if (app === undefined) {
      const known = config.apps.map((candidate) => candidate.appId ?? candidate.clientId).join(', ');
      throw new ServerError(
        'unknown_app',
        `no configured app has app id ${appId} (configured: ${known || 'none'})`,
      );
    }
    return app;
  });
}

/** Every record the query matches, page by page (1,000 at a time). */
export async function* allRecords(
  store: TokenStore,
  query: { clientId?: string; installationId?: string } = {},
): AsyncGenerator<TokenRecord> {
  let cursor: string | undefined;
  do {
    const page = await store.list({ ...query, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    yield* page.records;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

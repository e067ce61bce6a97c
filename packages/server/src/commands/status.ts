/**
 * `status`: every stored chain with its installation, status and time to expiry — never a token.
 */
import type { TokenRecord } from 'slack-rotator';
import { formatTable, formatTimeToExpiry } from '../table.js';
import type { ServerConfig } from '../types.js';
import type { CommandModule } from './context.js';
import { allRecords, chainName, installationIdOf, selectApps } from './records.js';

/** One chain as `status --json` prints it (snake_case, like the HTTP API). */
export interface ChainStatusJson {
  installation_id: string;
  chain: string;
  status: TokenRecord['status'];
  expires_at: string;
  /** Whole seconds; negative once expired. */
  expires_in: number;
  version: number;
  app_id: string | null;
  team_id: string | null;
  enterprise_id: string | null;
  last_error: string | null;
  refreshed_at: string | null;
}

function toJson(record: TokenRecord, config: ServerConfig, now: number): ChainStatusJson {
  return {
    installation_id: installationIdOf(record, config),
    chain: chainName(record),
    status: record.status,
    expires_at: new Date(record.expiresAt).toISOString(),
    expires_in: Math.floor((record.expiresAt - now) / 1000),
    version: record.version,
    app_id: record.appId,
    team_id: record.teamId,
    enterprise_id: record.enterpriseId,
    last_error: record.lastErrorCode,
    refreshed_at: record.refreshedAt === null ? null : new Date(record.refreshedAt).toISOString(),
  };
}

export const statusCommand: CommandModule = (program, context) => {
  program
    .command('status')
    .description('List installations and their chains: status, time to expiry, version (never a token).')
    .option('--json', 'print a JSON array instead of a table')
    .option('--app <appId...>', 'only these apps (A…); default: every configured app')
    .addHelpText(
      'after',
      '\nExamples:\n  $ slack-rotator status\n  $ slack-rotator status --json --app A0123ABCD | jq \'.[] | select(.status != "active")\'',
    )
    .action(async (options: { json?: boolean; app?: string[] }) => {
      await context.withBackends({ requireApps: false }, async (backends, config) => {
        const apps = selectApps(config, options.app);
        const now = backends.now();
        const rows: ChainStatusJson[] = [];
        const queries = options.app === undefined ? [{}] : apps.map((app) => ({ clientId: app.clientId }));
        for (const query of queries) {
          for await (const record of allRecords(backends.store, query))
            rows.push(toJson(record, config, now));
        }
        const { stdout } = context.io;
        if (options.json) {
          stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        if (rows.length === 0) {
          stdout.write('No installations yet.\n');
          return;
        }
        stdout.write(
          formatTable(
            ['INSTALLATION', 'CHAIN', 'STATUS', 'EXPIRES', 'VERSION', 'LAST ERROR'],
            rows.map((row) => [
              row.installation_id,
              row.chain,
              row.status,
              formatTimeToExpiry(Date.parse(row.expires_at), now),
              String(row.version),
              row.last_error ?? '',
            ]),
          ),
        );
      });
    });
};

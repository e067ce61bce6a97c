/**
 * `migrate`: creates or updates the store's schema and the server's own state (API keys, the refresh
 * budget). `serve` does it at start too unless told not to; run it alone before a fleet upgrade.
 */
import { SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION } from 'slack-rotator/postgres';
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from 'slack-rotator/sqlite';
import type { ServerConfig } from '../types.js';
import type { CommandModule } from './context.js';
import { describeStore } from './describe-store.js';

/** What the store's schema is after `migrate`. */
export function schemaLine(store: ServerConfig['store']): string {
  switch (store.kind) {
    case 'sqlite':
      return `store: ${describeStore(store)}, schema version ${SQLITE_SCHEMA_VERSION}`;
    case 'postgres':
      return `store: ${describeStore(store)}, schema version ${POSTGRES_SCHEMA_VERSION}`;
    case 'redis':
      return `store: ${describeStore(store)}, no schema (keys are written as needed)`;
  }
}

export const migrateCommand: CommandModule = (program, context) => {
  program
    .command('migrate')
    .description("Create or update the store's schema and the server's state (API keys, refresh budget).")
    .addHelpText(
      'after',
      '\nIdempotent: safe to run on every deploy, and from several instances at once.\n\nExample:\n  $ SLACK_ROTATOR_STORE=postgres://rotator@db/tokens slack-rotator migrate',
    )
    .action(async () => {
      await context.withBackends({ requireApps: false, migrate: true }, async (_backends, config) => {
        context.io.stdout.write(
          `${schemaLine(config.store)}\nserver state: ready (API keys, refresh budget)\n`,
        );
      });
    });
};

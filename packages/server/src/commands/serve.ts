/**
 * `serve`: the HTTP token broker and the sweeper, until SIGTERM or SIGINT.
 */
import { createLogger } from '../logger.js';
import { runServe } from '../serve.js';
import type { CommandModule } from './context.js';

export const serveCommand: CommandModule = (program, context) => {
  program
    .command('serve')
    .description('Run the HTTP token broker and the sweeper until SIGTERM or SIGINT.')
    .option('--migrate', 'create or update the schemas first (default for the embedded SQLite store)')
    .option('--no-migrate', 'never touch the schemas (a fleet migrates once, with slack-rotator migrate)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ SLACK_CLIENT_ID=… SLACK_CLIENT_SECRET=… slack-rotator serve\n  $ slack-rotator serve --config /etc/slack-rotator.yaml --migrate\n\nListens on 127.0.0.1:8787 unless SLACK_ROTATOR_LISTEN says otherwise; logs JSON lines to stderr.',
    )
    .action(async (options: { migrate?: boolean }) => {
      const config = context.loadConfig();
      const logger = createLogger({ logLevel: context.globals().verbose ? 'debug' : config.logLevel });
      // The embedded SQLite file belongs to this process alone: creating its tables is always safe.
      const migrate = options.migrate ?? config.store.kind === 'sqlite';
      await runServe(config, { logger, migrate });
    });
};

/**
 * `demo`: the broker and sweeper against a fake Slack with compressed time, several client
 * processes asking for tokens, live progress, then a report (`npm start`). Needs no configuration.
 */
import { DEMO_LIMITS, type DemoOptions, demoConfig, SETTINGS } from '../demo/config.js';
import { formatReport } from '../demo/report.js';
import { runDemo } from '../demo/run.js';
import type { CommandModule } from './context.js';

export const demoCommand: CommandModule = (program, context) => {
  program
    .command('demo')
    .description(
      'Run the broker and sweeper against a fake Slack whose tokens live seconds, with client processes asking for tokens; then a report.',
    )
    .option(
      '--naive',
      'instead, clients share one SQLite file and refresh it themselves, unlocked (the comparison)',
    )
    .option('--seed <n>', `seeds latency, install ages and load (default ${DEMO_LIMITS.seed.default})`)
    .option('--workers <n>', `client processes (default ${DEMO_LIMITS.workers.default})`)
    .option(
      '--workspaces <n>',
      `installed workspaces, one bot chain each (default ${DEMO_LIMITS.workspaces.default})`,
    )
    .option('--seconds <n>', `how long the load runs (default ${DEMO_LIMITS.seconds.default})`)
    .addHelpText(
      'after',
      `
Everything is local and temporary: a fake Slack (tokens expire in ${SETTINGS.expiresInSeconds} s instead of 12 h), the broker on
127.0.0.1 (a free port) with its sweeper, on an embedded SQLite file in a temporary folder, and client
processes calling chat.postMessage with the tokens the broker hands out. While it runs, stderr shows the
dashboard address and a progress line each second; at the end stdout gets the report, and its last line
is REPORT {json}. Takes the --seconds of load plus about 5 s.

Examples:
  $ slack-rotator demo
  $ slack-rotator demo --naive --seed 7
  $ npm start -- --workers 8 --seconds 60`,
    )
    .action(async (options: DemoOptions) => {
      const report = await runDemo(demoConfig(options), { stderr: context.io.stderr });
      context.io.stdout.write(`${formatReport(report)}\n\nREPORT ${JSON.stringify(report)}\n`);
    });
};

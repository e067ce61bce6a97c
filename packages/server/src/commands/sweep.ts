/**
 * `sweep`: one pass of the fleet sweeper now — every chain that is due is refreshed, within the
 * fleet-wide budget — then a summary.
 */
import { EXIT } from '../errors.js';
import { sweepOnce } from '../sweeper/index.js';
import type { CommandModule } from './context.js';
import { interruptSignal } from './migration-report.js';

export const sweepCommand: CommandModule = (program, context) => {
  program
    .command('sweep')
    .description('Refresh every chain that is due, once, and print checked / refreshed / failed.')
    .addHelpText(
      'after',
      `
The same pass the sweeper inside serve runs: due chains in deadline order, within the fleet-wide
oauth.v2.access budget shared with running servers. Exits 1 when any refresh failed (slack-rotator
status shows each chain's last error).

Example:
  $ slack-rotator sweep`,
    )
    .action(async () => {
      await context.withBackends({}, async (backends, config) => {
        const interrupt = interruptSignal();
        try {
          const result = await sweepOnce(backends, {
            logger: context.logger(config),
            signal: interrupt.signal,
          });
          context.io.stdout.write(
            `checked ${result.checked}, refreshed ${result.refreshed}, failed ${result.failed}\n`,
          );
          if (result.failed > 0) context.setExitCode(EXIT.failed);
        } finally {
          interrupt.release();
        }
      });
    });
};

/**
 * `refresh <installation>`: refresh one chain now (when due, or always with `--force`) and print its
 * new expiry.
 */
import type { ChainSelector } from 'slack-rotator';
import { ServerError } from '../errors.js';
import { appFor, installationKey, parseInstallationId } from '../installation-id.js';
import { formatTimeToExpiry } from '../table.js';
import type { CommandModule } from './context.js';
import { allRecords, chainName } from './records.js';

const USER_CHAIN = /^user:(U[A-Z0-9]{1,31}|W[A-Z0-9]{1,31})$/;

/** `bot` or `user:U…` as a chain selector. */
export function parseChain(text: string): ChainSelector {
  if (text === 'bot') return 'bot';
  const match = USER_CHAIN.exec(text);
  if (match === null)
    throw new ServerError('invalid_request', '--chain must be "bot" or "user:U…" (e.g. user:U0123ABC)');
  return { userId: match[1] as string };
}

export const refreshCommand: CommandModule = (program, context) => {
  program
    .command('refresh')
    .description('Refresh one chain now if it is due (or always, with --force) and print its new expiry.')
    .argument('<installation>', 'installation id: T…, E…, or <app id>:T… when several apps are configured')
    .option('--chain <chain>', 'bot, or user:U… for a user token', 'bot')
    .option('--force', 'refresh even when the token is not due yet')
    .addHelpText(
      'after',
      '\nExamples:\n  $ slack-rotator refresh T0123ABCD\n  $ slack-rotator refresh A0123:T0123ABCD --chain user:U0456 --force',
    )
    .action(async (installation: string, options: { chain: string; force?: boolean }) => {
      const parsed = parseInstallationId(installation);
      const chain = parseChain(options.chain);
      await context.withBackends({}, async (backends) => {
        const app = appFor(backends.apps, parsed);
        const wanted = chain === 'bot' ? 'bot' : `user:${chain.userId}`;
        const before = await findChain(backends.store, app.config.clientId, parsed.id, wanted);
        if (before === undefined) {
          throw new ServerError(
            'not_found',
            `${installation} has no ${wanted} chain (see slack-rotator status)`,
          );
        }
        const info = await app.rotator.refresh(
          { ...installationKey(parsed), chain },
          options.force ? { force: true } : {},
        );
        const after = await backends.store.get(info.chainKey);
        const refreshed = after !== undefined && after.version !== before.version;
        const now = backends.now();
        context.io.stdout.write(
          `${refreshed ? 'refreshed' : 'not due, kept'} ${installation} ${wanted}: expires ${new Date(info.expiresAt).toISOString()} (in ${formatTimeToExpiry(info.expiresAt, now)})\n`,
        );
        if (!refreshed && !options.force) context.io.stdout.write('use --force to refresh it anyway\n');
      });
    });
};

async function findChain(
  store: Parameters<typeof allRecords>[0],
  clientId: string,
  installationId: string,
  wanted: string,
) {
  for await (const record of allRecords(store, { clientId, installationId })) {
    if (chainName(record) === wanted) return record;
  }
  return undefined;
}

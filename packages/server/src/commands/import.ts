/**
 * `import <source>`: moves installations out of an `@slack/oauth` store — a FileInstallationStore
 * directory or a JSON file of installations — with the library's resumable migration.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import {
  type MigrationInput,
  migrateInstallations,
  readFileInstallationStore,
  readInstallationsFile,
} from 'slack-rotator';
import { EXIT, ServerError } from '../errors.js';
import { createProgress } from '../progress.js';
import type { CommandModule } from './context.js';
import { describeChainRef, interruptSignal, pickApp, positiveIntegerOption } from './migration-report.js';

interface ImportOptions {
  app?: string;
  clientId?: string;
  journal?: string;
  rate?: string;
  dryRun?: boolean;
  retryUncertain?: boolean;
}

/**
 * Whether `path` is the `baseDir` of a FileInstallationStore even though it does not exist: the
 * store writes a plain workspace's folder as a sibling, `<baseDir>T0123`, not inside it.
 */
async function hasWorkspaceSiblings(path: string): Promise<boolean> {
  const prefix = basename(path);
  try {
    return (await readdir(dirname(path))).some(
      (name) => name.startsWith(prefix) && /^[A-Z][A-Z0-9]*$/.test(name.slice(prefix.length)),
    );
  } catch {
    return false;
  }
}

async function sourceOf(
  path: string,
  clientId: string | undefined,
): Promise<Iterable<MigrationInput> | AsyncIterable<MigrationInput>> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    if (code !== 'ENOENT' || !(await hasWorkspaceSiblings(path))) {
      throw new ServerError('invalid_request', `cannot read ${path} (${code})`);
    }
    isDirectory = true;
  }
  if (isDirectory) {
    return readFileInstallationStore({ baseDir: path, ...(clientId === undefined ? {} : { clientId }) });
  }
  if (clientId !== undefined) {
    throw new ServerError('invalid_request', '--client-id applies to a FileInstallationStore directory only');
  }
  return readInstallationsFile(path);
}

export const importCommand: CommandModule = (program, context) => {
  program
    .command('import')
    .description(
      'Import installations from @slack/oauth: a FileInstallationStore directory or a JSON file of installations.',
    )
    .argument(
      '<source>',
      "a FileInstallationStore's baseDir, or a JSON file ([...] or { installations: [...] })",
    )
    .option('--app <appId>', 'the app the installations belong to (required when several are configured)')
    .option('--client-id <id>', 'the clientId the FileInstallationStore was created with, if any')
    .option(
      '--journal <file>',
      'where exchanges are recorded, to resume safely (default: <source>.slack-rotator.journal)',
    )
    .option('--rate <perMinute>', 'legacy token exchanges per minute (Slack: 50)', '50')
    .option('--dry-run', 'read and report only: no Slack call, no write')
    .option('--retry-uncertain', 'ask Slack again about exchanges whose answer was lost')
    .addHelpText(
      'after',
      `
Chains that already rotate are saved as they are; legacy xoxb-/xoxp- tokens are exchanged with
oauth.v2.exchange. Stop whatever refreshed the chains until now first: two refreshers kill a chain.
Running again is safe: chains already stored are skipped, and the journal keeps an exchange from
being sent twice. Exits 1 when any chain failed.

Examples:
  $ slack-rotator import ./.bolt-js-app-installation
  $ slack-rotator import installations.json --app A0123ABCD --dry-run`,
    )
    .action(async (source: string, options: ImportOptions) => {
      const path = resolve(context.io.cwd, source);
      const ratePerMinute = positiveIntegerOption(options.rate, '--rate', 50);
      const installations = await sourceOf(path, options.clientId);
      const journal = resolve(
        context.io.cwd,
        options.journal ?? `${path.replace(/[/\\]+$/, '')}.slack-rotator.journal`,
      );
      await context.withBackends({}, async (backends, config) => {
        const app = pickApp(backends, options.app);
        const progress = createProgress({ label: 'chains', stream: context.io.stderr });
        const interrupt = interruptSignal();
        let report: Awaited<ReturnType<typeof migrateInstallations>>;
        try {
          report = await migrateInstallations({
            rotator: app.rotator,
            store: backends.store,
            installations,
            journal,
            ratePerMinute,
            dryRun: options.dryRun === true,
            retryUncertain: options.retryUncertain === true,
            signal: interrupt.signal,
            onProgress: (p) => progress.update(p.processed, p.total),
            logger: context.logger(config),
          });
        } finally {
          progress.stop();
          interrupt.release();
        }
        const prefixed = config.apps.length > 1;
        const { stdout } = context.io;
        for (const failure of report.failures) {
          const slack = failure.slackError === undefined ? '' : ` (Slack: ${failure.slackError})`;
          stdout.write(
            `failed ${describeChainRef(failure, app.config, prefixed)}: ${failure.code}${slack}: ${failure.message}\n`,
          );
        }
        stdout.write(
          `${report.dryRun ? 'dry run: ' : ''}${report.total} chains: imported ${report.imported}, exchanged ${report.exchanged}, already migrated ${report.alreadyMigrated}, duplicates ${report.duplicates}, failed ${report.failed}, not attempted ${report.notAttempted}\n`,
        );
        if (report.stoppedBy !== null)
          stdout.write(`stopped early: ${report.stoppedBy}; run again to resume\n`);
        stdout.write(`journal: ${journal}\n`);
        if (report.failed > 0 || report.stoppedBy !== null) context.setExitCode(EXIT.failed);
      });
    });
};

/**
 * `exchange <file|->`: turns legacy long-lived tokens into rotating chains with
 * `oauth.v2.exchange`. Tokens are read from a file or stdin, never from the command line (argv is
 * visible to every user through `ps`), and are never printed: a failed line is named by its number.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRotatorError } from 'slack-rotator';
import { EXIT, ServerError } from '../errors.js';
import { formatInstallationId } from '../installation-id.js';
import { createProgress } from '../progress.js';
import type { CommandModule } from './context.js';
import { interruptSignal, pickApp, positiveIntegerOption } from './migration-report.js';

/** One line of the input: a token to exchange, or why the line is unusable (never quoting it). */
export type TokenLine =
  | { line: number; token: string; userId: string | undefined }
  | { line: number; problem: string };

const BOT = /^xoxb-\S+$/;
const USER = /^user:([UW][A-Z0-9]{1,31}):(xoxp-\S+)$/;

/** Parses the input: `xoxb-…` or `user:U…:xoxp-…` per line; blank lines and `#` comments skipped. */
export function parseTokenLines(text: string): TokenLine[] {
  const lines: TokenLine[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const value = raw.trim();
    if (value === '' || value.startsWith('#')) return;
    if (BOT.test(value)) {
      lines.push({ line, token: value, userId: undefined });
      return;
    }
    const user = USER.exec(value);
    if (user !== null) {
      lines.push({ line, token: user[2] as string, userId: user[1] as string });
      return;
    }
    const problem = /^xoxp-/.test(value)
      ? 'invalid_line (a user token needs its user: user:U…:xoxp-…)'
      : 'invalid_line (expected xoxb-… or user:U…:xoxp-…)';
    lines.push({ line, problem });
  });
  return lines;
}

async function readInput(source: string, stdin: NodeJS.ReadableStream, cwd: string): Promise<string> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(resolve(cwd, source), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ServerError('invalid_request', `cannot read ${source} (${code})`);
  }
}

/** The code a failed exchange is reported with: Slack's error when Slack gave one, else ours. */
function failureCode(error: unknown): string {
  if (isRotatorError(error)) return error.slackError ?? error.code;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'internal_error';
}

export const exchangeCommand: CommandModule = (program, context) => {
  program
    .command('exchange')
    .description(
      'Exchange legacy long-lived tokens (xoxb-/xoxp-) for rotating chains, read from a file or stdin.',
    )
    .argument('<file>', 'a file with one token per line, or - for stdin')
    .option('--app <appId>', 'the app the tokens belong to (required when several are configured)')
    .option('--rate <perMinute>', 'exchanges per minute (Slack: 50)', '50')
    .addHelpText(
      'after',
      `
One token per line: xoxb-… for a bot token, user:U…:xoxp-… for a user token. Blank lines and lines
starting with # are skipped. Tokens are never taken from the command line (argv shows in ps) and
never printed: a failed line is reported by its number and error code. Slack exchanges a token once.
Exits 1 when any line failed.

Examples:
  $ slack-rotator exchange legacy-tokens.txt
  $ vault kv get -field=tokens secret/slack | slack-rotator exchange -`,
    )
    .action(async (source: string, options: { app?: string; rate?: string }) => {
      if (/^(?:user:[A-Z0-9]+:)?xox[a-z]-/.test(source)) {
        throw new ServerError(
          'invalid_request',
          'tokens are never taken from the command line (argv shows in ps): put them in a file, or pipe them and pass -',
        );
      }
      const intervalMs = 60_000 / positiveIntegerOption(options.rate, '--rate', 50);
      const lines = parseTokenLines(await readInput(source, context.io.stdin, context.io.cwd));
      if (lines.length === 0)
        throw new ServerError('invalid_request', `no token lines in ${source === '-' ? 'stdin' : source}`);
      await context.withBackends({}, async (backends, config) => {
        const app = pickApp(backends, options.app);
        const prefixed = config.apps.length > 1;
        const { stdout } = context.io;
        const progress = createProgress({ label: 'tokens', total: lines.length, stream: context.io.stderr });
        const interrupt = interruptSignal();
        let exchanged = 0;
        let failed = 0;
        let done = 0;
        let nextAt = 0;
        try {
          for (const entry of lines) {
            if (interrupt.signal.aborted) break;
            if ('problem' in entry) {
              failed += 1;
              stdout.write(`line ${entry.line}: ${entry.problem}\n`);
            } else {
              const wait = nextAt - Date.now();
              if (wait > 0) await sleep(wait, undefined, { signal: interrupt.signal }).catch(() => undefined);
              if (interrupt.signal.aborted) break;
              nextAt = Date.now() + intervalMs;
              try {
                const saved = await app.rotator.exchangeLegacyToken(
                  entry.token,
                  entry.userId === undefined ? {} : { userId: entry.userId },
                );
                exchanged += 1;
                const id = formatInstallationId(saved.installationId, app.config.appId, prefixed);
                const chains = saved.chains.map((chain) =>
                  chain.kind === 'bot' ? 'bot' : `user:${chain.userId}`,
                );
                stdout.write(`line ${entry.line}: exchanged ${id} ${chains.join(', ')}\n`);
              } catch (error) {
                if (isRotatorError(error) && error.name === 'ConfigurationError') throw error;
                failed += 1;
                const code = failureCode(error);
                const maybe =
                  isRotatorError(error) && error.name === 'RetryLaterError'
                    ? ' (Slack may have exchanged it: check slack-rotator status before trying this token again)'
                    : '';
                stdout.write(`line ${entry.line}: ${code}${maybe}\n`);
              }
            }
            done += 1;
            progress.update(done);
          }
        } finally {
          progress.stop();
          interrupt.release();
        }
        const skipped = lines.length - done;
        stdout.write(
          `${lines.length} tokens: exchanged ${exchanged}, failed ${failed}${skipped > 0 ? `, not attempted ${skipped} (interrupted)` : ''}\n`,
        );
        if (failed > 0 || skipped > 0) context.setExitCode(EXIT.failed);
      });
    });
};

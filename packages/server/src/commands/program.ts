/**
 * The `slack-rotator` program: global options, every command of {@link COMMANDS}, help with the
 * exit codes and settings, and one place that turns any failure into one line and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { SETTINGS } from '../config.js';
import { EXIT } from '../errors.js';
import { type CliIo, createContext, type GlobalOptions } from './context.js';
import { COMMANDS } from './index.js';
import { describeFailure } from './report-error.js';

const EXIT_CODES = `Exit codes:
  ${EXIT.ok}  success
  ${EXIT.failed}  the command ran and found problems (doctor: a check failed; sweep, import,
     exchange, encryption rotate: some chains failed)
  ${EXIT.usage}  bad command line or configuration (the message names the setting)
  ${EXIT.unavailable}  the store, the lock or Slack could not be reached
  ${EXIT.notFound}  nothing matched (unknown installation, chain, app or API key)`;

function settingsHelp(): string {
  const rows = SETTINGS.map((setting) => {
    const env = setting.env ?? '(file only)';
    const fallback =
      setting.default === undefined || setting.default === '' ? '' : ` [default: ${setting.default}]`;
    return `  ${env.padEnd(34)}${setting.name}${fallback}`;
  });
  return `Configuration (environment variable, then the file key; environment wins):\n${rows.join('\n')}`;
}

/** Builds the program; `run` parses and executes it. */
export function createProgram(io: CliIo): { program: Command; exitCode(): number } {
  const program = new Command('slack-rotator');
  const context = createContext(io, program);
  program
    .description(
      "Keeps every installation's rotating Slack tokens alive and hands a valid one to any process that asks.",
    )
    .option('-c, --config <file>', 'configuration file (YAML or JSON); default: $SLACK_ROTATOR_CONFIG')
    .option('-v, --verbose', 'more detail: debug logs, and the causes and stack of an error')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`slack-rotator: ${text.replace(/^error: /, '')}`),
    })
    .exitOverride()
    .addHelpText(
      'after',
      `
${EXIT_CODES}

${settingsHelp()}

Examples:
  $ SLACK_CLIENT_ID=123.456 SLACK_CLIENT_SECRET=… slack-rotator serve
  $ slack-rotator api-keys create --name worker --installations T0123ABCD
  $ curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8787/v1/installations/T0123ABCD/token
  $ slack-rotator doctor

Every command has --help with an example.`,
    );
  for (const register of COMMANDS) register(program, context);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return { program, exitCode: () => context.exitCode };
}

/** Runs the CLI on `argv` (as `process.argv`); resolves to the exit code, never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, exitCode } = createProgram(io);
  try {
    await program.parseAsync([...argv]);
    return exitCode();
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const verbose = program.opts<GlobalOptions>().verbose === true;
    const { exitCode: code, text } = describeFailure(error, verbose);
    io.stderr.write(text);
    return code;
  }
}

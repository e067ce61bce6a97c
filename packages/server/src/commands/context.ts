/**
 * What every command gets: the process's streams and environment (injectable, so the same program
 * runs in tests), the global options, and one way to load the configuration and open the backends
 * that always closes them.
 */
import type { Command } from 'commander';
import { openBackends } from '../backends.js';
import { loadConfig } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import type { Backends, ServerConfig } from '../types.js';

/** A stream the CLI writes to. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

/** The process around the CLI. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean | undefined };
  env: Record<string, string | undefined>;
  cwd: string;
}

/** The options every command accepts (`slack-rotator --config x status` or `status --config x`). */
export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
}

/** Options of {@link CommandContext.loadConfig} and {@link CommandContext.withBackends}. */
export interface OpenOptions {
  /** At least one Slack app must be configured (default true). */
  requireApps?: boolean;
  /** Create or update the schemas first (default false). */
  migrate?: boolean;
}

/** Passed to every command module. */
export interface CommandContext {
  io: CliIo;
  /** The global options as parsed (valid inside an action). */
  globals(): GlobalOptions;
  loadConfig(options?: OpenOptions): ServerConfig;
  /**
   * The logger of one-shot commands: to stderr, warnings and errors only (`--verbose`: debug), so
   * stdout stays the command's result.
   */
  logger(config: ServerConfig): Logger;
  /** Opens the backends, runs `fn`, and closes them whatever happens. */
  withBackends<T>(
    options: OpenOptions,
    fn: (backends: Backends, config: ServerConfig) => Promise<T>,
  ): Promise<T>;
  /** Sets the exit code (e.g. `EXIT.failed` when a run found problems) without stopping. */
  setExitCode(code: number): void;
  readonly exitCode: number;
}

/** Registers one command (and its subcommands) on the program. */
export type CommandModule = (program: Command, context: CommandContext) => void;

/** The context for a program; `globals` reads the program's parsed options. */
export function createContext(io: CliIo, program: Command): CommandContext {
  let exitCode = 0;
  const context: CommandContext = {
    io,
    globals: () => program.opts<GlobalOptions>(),
    loadConfig(options = {}) {
      return loadConfig({
        file: context.globals().config,
        env: io.env,
        cwd: io.cwd,
        requireApps: options.requireApps ?? true,
      });
    },
    logger(config) {
      const logLevel = context.globals().verbose ? 'debug' : config.logLevel === 'silent' ? 'silent' : 'warn';
      return createLogger({ logLevel });
    },
    async withBackends(options, fn) {
      const config = context.loadConfig(options);
      const backends = await openBackends(config, {
        logger: context.logger(config),
        migrate: options.migrate ?? false,
      });
      try {
        return await fn(backends, config);
      } finally {
        await backends.close();
      }
    },
    setExitCode(code) {
      exitCode = Math.max(exitCode, code);
    },
    get exitCode() {
      return exitCode;
    },
  };
  return context;
}

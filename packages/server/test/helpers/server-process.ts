/**
 * Starts the real server as a separate process (`node packages/server/dist/cli.js serve`, or, before
 * the CLI exists, a tiny script over dist/serve.js), waits until it listens, and collects its output
 * so that tests can scan it (for tokens, for example). Build first (`npm run build`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const CLI = `${DIST}cli.js`;

/** Used only while dist/cli.js does not exist. */
const FALLBACK = `
const { loadConfig } = await import(${JSON.stringify(`${DIST}config.js`)});
const { createLogger } = await import(${JSON.stringify(`${DIST}logger.js`)});
const { runServe } = await import(${JSON.stringify(`${DIST}serve.js`)});
const config = loadConfig({ env: process.env });
await runServe(config, { logger: createLogger(config) });
`;

/** A running server process. */
export interface ServerProcess {
  /** The broker's base URL, from its "listening" log line. */
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Parsed JSON log lines so far (non-JSON lines are skipped). */
  logs(): Record<string, unknown>[];
  /** Sends `signal` (default SIGTERM) and waits for the exit; resolves with the exit code (or signal). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Resolves when the process exits, however it does. */
  exited: Promise<number | string>;
}

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  /** Environment for the server (merged over a minimal one: PATH, HOME). Use `SLACK_ROTATOR_LISTEN=127.0.0.1:0`. */
  env: Record<string, string>;
  /** Extra CLI arguments after `serve` (ignored by the fallback script). */
  args?: string[];
  /** How long to wait for the "listening" line (ms). Default 20 000. */
  readyTimeoutMs?: number;
  /** Keep at most this many characters of output (benchmarks); default all of it. */
  outputLimit?: number;
}

/** Every process started here, stopped by {@link stopAllServerProcesses} (call it in afterEach). */
const started = new Set<ServerProcess>();

/**
 * Spawns the server and waits until it logs that it listens.
 * @throws Error with the process output when it exits or times out first.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const argv = existsSync(CLI)
    ? [CLI, 'serve', ...(options.args ?? [])]
    : ['--input-type=module', '-e', FALLBACK];
  const child = spawn(process.execPath, argv, {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      SLACK_ROTATOR_LISTEN: '127.0.0.1:0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const limit = options.outputLimit ?? Number.POSITIVE_INFINITY;
  const keep = (chunk: string) => {
    if (text.length < limit) text += chunk;
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const logs = () =>
    text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.kill('SIGKILL');
      reject(new Error(`the server did not start in time; output:\n${text}`));
    }, options.readyTimeoutMs ?? 20_000);
    // A fixed port can be probed, whatever the log level; port 0 is known from the log line only.
    const fixed = /^(.*):([1-9][0-9]*)$/.exec(options.env.SLACK_ROTATOR_LISTEN ?? '');
    const probe = fixed === null ? undefined : `http://${fixed[1]}:${fixed[2]}`;
    let probing = false;
    const found = (url: string) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(url);
    };
    const poll = setInterval(() => {
      const line = logs().find((l) => typeof l.url === 'string' && /listening/.test(String(l.msg)));
      if (line !== undefined) return found(line.url as string);
      if (probe === undefined || probing) return;
      probing = true;
      fetch(`${probe}/healthz`)
        .then((response) => {
          if (response.ok) found(probe);
        })
        .catch(() => undefined)
        .finally(() => {
          probing = false;
        });
    }, 20);
    void exited.then((code) => {
      clearTimeout(timer);
      clearInterval(poll);
      reject(new Error(`the server exited (${code}) before listening; output:\n${text}`));
    });
  });
  const processHandle: ServerProcess = {
    url,
    child,
    output: () => text,
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      started.delete(processHandle);
      return code;
    },
  };
  started.add(processHandle);
  return processHandle;
}

/** Kills every server process a test left running (SIGKILL), for afterEach. */
export async function stopAllServerProcesses(): Promise<void> {
  await Promise.all(
    [...started].map(async (p) => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
      started.delete(p);
    }),
  );
}

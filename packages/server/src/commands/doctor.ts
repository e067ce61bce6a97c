/**
 * `doctor`: checks the configuration, the store, the lock, the clock and Slack, one line each, and
 * says for every failure what to do.
 */
import { randomBytes } from 'node:crypto';
import { openBackends } from '../backends.js';
import { EXIT, toServerError } from '../errors.js';
import type { Backends, ServerConfig } from '../types.js';
import type { CommandContext, CommandModule } from './context.js';
import { describeLock, describeStore } from './describe-store.js';
import { type CheckResult, checkClock, checkSlackCredentials, checkSlackReachable } from './doctor-checks.js';
import { oneLine } from './report-error.js';

const LOCK_TTL_MS = 5_000;
const LOCK_WAIT_MS = 5_000;

function failureText(error: unknown): string {
  return oneLine(toServerError(error), error);
}

/** The failure, plus what to check unless the message already says what to do. */
function storeAdvice(text: string): string {
  return /slack-rotator migrate/.test(text)
    ? text
    : `${text} (check SLACK_ROTATOR_STORE and that the server is up)`;
}

async function checkStore(
  config: ServerConfig,
  context: CommandContext,
): Promise<{ result: CheckResult; backends?: Backends }> {
  const name = 'store reachable and schema current';
  let backends: Backends | undefined;
  try {
    const opened: Backends = await openBackends(config, { logger: context.logger(config), migrate: false });
    backends = opened;
    await opened.ping();
    return { result: { name, ok: true, detail: describeStore(config.store) }, backends: opened };
  } catch (error) {
    await backends?.close().catch(() => undefined);
    return {
      result: {
        name,
        ok: false,
        detail: storeAdvice(failureText(error)),
      },
    };
  }
}

async function checkLock(backends: Backends, config: ServerConfig): Promise<CheckResult> {
  const name = 'lock reachable';
  const lock = backends.lock;
  if (lock === undefined) return { name, ok: true, detail: 'in-process lock (single instance)' };
  try {
    const lease = await lock.acquire(`doctor:${randomBytes(6).toString('hex')}`, {
      ttlMs: LOCK_TTL_MS,
      waitMs: LOCK_WAIT_MS,
    });
    await lock.release(lease);
    return { name, ok: true, detail: describeLock(config) };
  } catch (error) {
    return {
      name,
      ok: false,
      detail: `${describeLock(config)}: ${failureText(error)} (check SLACK_ROTATOR_LOCK)`,
    };
  }
}

function print(context: CommandContext, result: CheckResult): void {
  const line = result.ok
    ? `ok   ${result.name}${result.detail === undefined ? '' : ` — ${result.detail}`}`
    : `FAIL ${result.name}: ${result.detail ?? 'failed'}`;
  context.io.stdout.write(`${line}\n`);
  if (!result.ok) context.setExitCode(EXIT.failed);
}

export const doctorCommand: CommandModule = (program, context) => {
  program
    .command('doctor')
    .description('Check configuration, store, lock, clock and Slack credentials; one line per check.')
    .addHelpText(
      'after',
      `
Each check prints "ok   <check>" or "FAIL <check>: <what is wrong and what to do>". The Slack
credentials check makes one harmless oauth.v2.access call per app with a made-up code (Slack
answers invalid_code when the client id and secret are right). Exits 1 when any check failed.

Example:
  $ slack-rotator doctor --config /etc/slack-rotator.yaml`,
    )
    .action(async () => {
      let config: ServerConfig;
      try {
        config = context.loadConfig({ requireApps: true });
      } catch (error) {
        print(context, { name: 'configuration', ok: false, detail: failureText(error) });
        return;
      }
      const apps = config.apps.map((app) => app.appId ?? app.clientId).join(', ');
      print(context, { name: 'configuration', ok: true, detail: `${config.apps.length} app(s): ${apps}` });

      const store = await checkStore(config, context);
      print(context, store.result);
      if (store.backends !== undefined) {
        try {
          print(context, await checkLock(store.backends, config));
        } finally {
          await store.backends.close().catch(() => undefined);
        }
      } else {
        print(context, { name: 'lock reachable', ok: false, detail: 'not checked: the store failed' });
      }
      print(context, await checkClock(config));
      const reachable = await checkSlackReachable(config);
      print(context, reachable);
      for (const app of config.apps) {
        print(
          context,
          reachable.ok
            ? await checkSlackCredentials(config, app)
            : {
                name: `slack credentials (${app.appId ?? `client ${app.clientId}`})`,
                ok: false,
                detail: 'not checked: Slack is not reachable',
              },
        );
      }
    });
};

/**
 * Shared by `import` and `exchange`: a run's chains named as the broker names them, pacing, and
 * stopping cleanly on Ctrl-C.
 */
import type { MigrationChainRef } from 'slack-rotator';
import { ServerError } from '../errors.js';
import { formatInstallationId } from '../installation-id.js';
import type { AppConfig, Backends } from '../types.js';

/** `T0123 bot`, `A01:E0456 user:U0789`, or `(unreadable entry)`. */
export function describeChainRef(ref: MigrationChainRef, app: AppConfig, prefixed: boolean): string {
  const id = ref.isEnterpriseInstall ? ref.enterpriseId : (ref.teamId ?? ref.enterpriseId);
  if (id === null || ref.chain === null) return '(unreadable entry)';
  const chain = ref.chain === 'bot' ? 'bot' : `user:${ref.chain.userId}`;
  return `${formatInstallationId(id, app.appId, prefixed)} ${chain}`;
}

/** The app `--app A…` names, or the only one. */
export function pickApp(backends: Backends, appId: string | undefined): Backends['apps'][number] {
  if (appId === undefined) {
    if (backends.apps.length === 1) return backends.apps[0] as Backends['apps'][number];
    throw new ServerError('invalid_request', 'several apps are configured: say which one with --app A…');
  }
  const app = backends.apps.find((candidate) => candidate.config.appId === appId);
  if (app === undefined) throw new ServerError('unknown_app', `no configured app has app id ${appId}`);
  return app;
}

/** A positive integer option (`--rate 50`), or a usage error naming it. */
export function positiveIntegerOption(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new ServerError('invalid_request', `${name} must be a positive integer`);
  }
  return value;
}

/**
 * An abort signal raised by the first Ctrl-C (SIGINT) or SIGTERM, so a long run stops between two
 * items with nothing half done; `release` removes the handlers.
 */
export function interruptSignal(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new ServerError('internal_error', 'interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

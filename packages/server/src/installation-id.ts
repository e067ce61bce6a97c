/**
 * Installation ids as the broker and the CLI spell them: `T…` (a workspace) or `E…` (an org-wide
 * install), prefixed with `<app id>:` when several apps share a server (`A0123:T0456`).
 */
import { ServerError } from './errors.js';
import type { AppConfig } from './types.js';

export interface ParsedInstallationId {
  appId: string | undefined;
  /** `T…` or `E…`. */
  id: string;
  isEnterpriseInstall: boolean;
}

const ID = /^(?:(A[A-Z0-9]{1,31}):)?([TE][A-Z0-9]{1,31})$/;

/** @throws ServerError `invalid_installation_id` naming the expected shape. */
export function parseInstallationId(raw: string): ParsedInstallationId {
  const match = ID.exec(raw);
  if (match === null) {
    throw new ServerError(
      'invalid_installation_id',
      'installation id must be T… or E…, optionally prefixed with "<app id>:" (e.g. A0123:T0456)',
    );
  }
  return {
    appId: match[1],
    id: match[2] as string,
    isEnterpriseInstall: (match[2] as string).startsWith('E'),
  };
}

/** The installation id a record's ids make, prefixed when more than one app is configured. */
export function formatInstallationId(
  installationId: string,
  appId: string | null | undefined,
  prefixed: boolean,
): string {
  return prefixed && appId ? `${appId}:${installationId}` : installationId;
}

/**
 * The app an id names: its prefix, or the only app. An unprefixed id with several apps, or an
 * unknown prefix, is an error that names the problem.
 */
export function appFor<T extends { config: AppConfig }>(apps: readonly T[], parsed: ParsedInstallationId): T {
  if (parsed.appId === undefined) {
    if (apps.length === 1) return apps[0] as T;
    throw new ServerError(
      'invalid_installation_id',
      'several apps are configured: prefix the installation id with its app id ("<app id>:T…")',
    );
  }
  const app = apps.find((a) => a.config.appId === parsed.appId);
  if (app === undefined) throw new ServerError('unknown_app', `no configured app has app id ${parsed.appId}`);
  return app;
}

/** The rotator key of an installation id (no chain): workspace or org-wide install. */
export function installationKey(parsed: ParsedInstallationId): {
  teamId?: string;
  enterpriseId?: string;
  isEnterpriseInstall: boolean;
} {
  return parsed.isEnterpriseInstall
    ? { enterpriseId: parsed.id, isEnterpriseInstall: true }
    : { teamId: parsed.id, isEnterpriseInstall: false };
}

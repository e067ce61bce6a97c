import { invalidArgument } from './errors.js';

/** Which token chain of an installation: the bot's, or one user's. */
export type ChainSelector = 'bot' | { userId: string };

/**
 * Names one chain. Workspace installs are keyed by team id; org-wide (Enterprise Grid) installs by
 * enterprise id. When `isEnterpriseInstall` is unknown, the team is looked up first, then the
 * enterprise.
 */
export interface ChainKeyInput {
  enterpriseId?: string | null | undefined;
  teamId?: string | null | undefined;
  isEnterpriseInstall?: boolean | undefined;
  /** `'bot'` (the default) or `{ userId }` for a user token chain. */
  chain?: ChainSelector | undefined;
}

/** The kind of a chain. `config` is an app configuration token (`tooling.tokens.rotate`). */
export type ChainKind = 'bot' | 'user' | 'config';

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

function checkId(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw invalidArgument(`${name} must be a string, got ${typeof value}`, 'ERR_INVALID_ARG_TYPE');
  }
  if (!ID.test(value)) throw invalidArgument(`${name} must be a Slack id (letters, digits, . _ -)`);
  return value;
}

function present(value: string | null | undefined): value is string {
  return value !== undefined && value !== null && value !== '';
}

/** The installation id of a key: the enterprise id for org-wide installs, else the team id. */
export function installationIdOf(key: ChainKeyInput): string {
  if (key === null || typeof key !== 'object') {
    throw invalidArgument('a key must be an object with teamId or enterpriseId', 'ERR_INVALID_ARG_TYPE');
  }
  if (key.isEnterpriseInstall === true) {
    if (!present(key.enterpriseId)) {
      throw invalidArgument('an org-wide install (isEnterpriseInstall: true) needs enterpriseId');
    }
    return checkId(key.enterpriseId, 'enterpriseId');
  }
  if (present(key.teamId)) return checkId(key.teamId, 'teamId');
  if (key.isEnterpriseInstall === false) {
    throw invalidArgument('a workspace install (isEnterpriseInstall: false) needs teamId');
  }
  if (present(key.enterpriseId)) return checkId(key.enterpriseId, 'enterpriseId');
  throw invalidArgument('a key needs teamId or enterpriseId');
}

/** The chain suffix of a key: `bot` or `user:<U…>`. */
export function chainSuffixOf(chain: ChainSelector | undefined): string {
  if (chain === undefined || chain === 'bot') return 'bot';
  if (typeof chain === 'object' && chain !== null) return `user:${checkId(chain.userId, 'chain.userId')}`;
  throw invalidArgument("chain must be 'bot' or { userId }", 'ERR_INVALID_ARG_TYPE');
}

/** Builds the chain key string: `"<clientId>:<E…|T…>:bot"` or `"<clientId>:<E…|T…>:user:<U…>"`. */
export function chainKeyOf(clientId: string, installationId: string, suffix: string): string {
  return `${clientId}:${installationId}:${suffix}`;
}

/**
 * The chain keys to try for a key, in order: when `isEnterpriseInstall` is unknown and both ids are
 * present, the team's chain first, then the enterprise's.
 */
export function candidateChainKeys(clientId: string, key: ChainKeyInput): string[] {
  const suffix = chainSuffixOf(key?.chain);
  const primary = installationIdOf(key);
  const keys = [chainKeyOf(clientId, primary, suffix)];
  if (key.isEnterpriseInstall === undefined && present(key.teamId) && present(key.enterpriseId)) {
    keys.push(chainKeyOf(clientId, checkId(key.enterpriseId, 'enterpriseId'), suffix));
  }
  return keys;
}

/** The chain key of an app configuration token: `config:<teamId>:<userId>`. */
export function configChainKeyOf(teamId: string, userId: string): string {
  return `config:${checkId(teamId, 'teamId')}:${checkId(userId, 'userId')}`;
}

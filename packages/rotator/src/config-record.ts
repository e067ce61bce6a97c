import { configChainKeyOf } from './chain.js';
import { invalidArgument } from './errors.js';
import type { ConfigTokenInput } from './rotator.js';
import { INSTALLED_CHAIN_STATE } from './store/record.js';
import type { NewTokenRecord } from './store/types.js';

/**
 * The record of an app configuration token pair (`tooling.tokens.rotate` rotates it), checked.
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for a malformed pair.
 */
export function configRecordOf(config: ConfigTokenInput, clientId: string, at: number): NewTokenRecord {
  if (typeof config !== 'object' || config === null) {
    throw invalidArgument(
      'saveConfigToken needs { teamId, userId, token, refreshToken, exp }',
      'ERR_INVALID_ARG_TYPE',
    );
  }
  const chainKey = configChainKeyOf(config.teamId, config.userId);
  for (const field of ['token', 'refreshToken'] as const) {
    if (typeof config[field] !== 'string' || config[field] === '') {
      throw invalidArgument(`config.${field} must be a non-empty string`, 'ERR_INVALID_ARG_TYPE');
    }
  }
  if (typeof config.exp !== 'number' || !Number.isFinite(config.exp) || config.exp <= 0) {
    throw invalidArgument('config.exp must be the expiry in epoch seconds, as Slack gives it');
  }
  return {
    chainKey,
    clientId,
    installationId: config.teamId,
    enterpriseId: null,
    teamId: config.teamId,
    isEnterpriseInstall: false,
    kind: 'config',
    userId: config.userId,
    appId: null,
    botId: null,
    botUserId: null,
    scopes: [],
    accessToken: config.token,
    refreshToken: config.refreshToken,
    expiresAt: config.exp * 1000,
    ...INSTALLED_CHAIN_STATE,
    createdAt: at,
    updatedAt: at,
  };
}

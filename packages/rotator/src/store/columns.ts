import type { NewTokenRecord } from './types.js';

/**
 * Each plain record field and its SQL column, shared by the SQL stores (SQLite, PostgreSQL).
 * `refreshIntent` is stored differently by each (one JSON column, or four columns).
 */
export const RECORD_COLUMNS = [
  ['chainKey', 'chain_key'],
  ['clientId', 'client_id'],
  ['installationId', 'installation_id'],
  ['enterpriseId', 'enterprise_id'],
  ['teamId', 'team_id'],
  ['isEnterpriseInstall', 'is_enterprise_install'],
  ['kind', 'kind'],
  ['userId', 'user_id'],
  ['appId', 'app_id'],
  ['botId', 'bot_id'],
  ['botUserId', 'bot_user_id'],
  ['scopes', 'scopes'],
  ['accessToken', 'access_token'],
  ['refreshToken', 'refresh_token'],
  ['expiresAt', 'expires_at'],
  ['fallbackRefreshToken', 'fallback_refresh_token'],
  ['status', 'status'],
  ['lastErrorCode', 'last_error_code'],
  ['refreshedAt', 'refreshed_at'],
  ['createdAt', 'created_at'],
  ['updatedAt', 'updated_at'],
] as const satisfies readonly (readonly [Exclude<keyof NewTokenRecord, 'refreshIntent'>, string])[];

/**
 * JSON schemas of the broker's requests and answers. Requests are checked before a handler runs;
 * a failure names the field (see error-handler.ts). Answers are serialized from their schema.
 */

/** `bot`, or `user:<user id>`. */
export const CHAIN_PATTERN = '^(bot|user:[UW][A-Z0-9]{1,31})$';

const chain = {
  type: 'string',
  pattern: CHAIN_PATTERN,
  description: "must be 'bot' or 'user:<user id>'",
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 80 } },
} as const;

export const tokenQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    chain,
    min_validity: {
      type: 'string',
      pattern: '^[0-9]{1,9}$',
      description: 'must be a whole number of seconds (0 or more)',
    },
  },
} as const;

export const expiredBody = {
  type: 'object',
  additionalProperties: false,
  required: ['token'],
  properties: {
    token: {
      type: 'string',
      minLength: 1,
      maxLength: 2048,
      description: 'must be the access token that failed (a non-empty string)',
    },
    chain,
  },
} as const;

export const appQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    app: { type: 'string', pattern: '^A[A-Z0-9]{1,31}$', description: 'must be an app id (A…)' },
  },
} as const;

/** An `oauth.v2.access` / `oauth.v2.exchange` answer; the library checks its fields. */
export const installBody = {
  type: 'object',
  required: ['ok'],
  properties: {
    ok: { type: 'boolean', description: 'must be true (an oauth.v2.access or oauth.v2.exchange answer)' },
    bot_id: { type: 'string', pattern: '^B[A-Z0-9]{1,31}$', description: 'must be a bot id (B…)' },
    user_id: {
      type: 'string',
      pattern: '^[UW][A-Z0-9]{1,31}$',
      description: 'must be a user id (U… or W…)',
    },
  },
} as const;

export const deleteQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    purge: { type: 'string', enum: ['true', 'false'], description: "must be 'true' or 'false'" },
  },
} as const;

export const oauthRedirectQuery = {
  type: 'object',
  properties: {
    code: { type: 'string', maxLength: 512 },
    state: { type: 'string', maxLength: 2048 },
    error: { type: 'string', maxLength: 200 },
  },
} as const;

const nullableString = { type: ['string', 'null'] } as const;

export const tokenAnswer = {
  type: 'object',
  properties: {
    token: { type: 'string' },
    expires_at: { type: 'string' },
    expires_in: { type: 'integer' },
    installation_id: { type: 'string' },
    chain: { type: 'string' },
    bot_id: nullableString,
    bot_user_id: nullableString,
    user_id: nullableString,
    scopes: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The shape of a token answer. */
export interface TokenAnswer {
  token: string;
  expires_at: string;
  expires_in: number;
  installation_id: string;
  chain: string;
  bot_id: string | null;
  bot_user_id: string | null;
  user_id: string | null;
  scopes: string[];
}

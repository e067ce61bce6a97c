/**
 * `GET /v1/installations/{id}/token` and `POST /v1/installations/{id}/token/expired`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ChainSelector, TokenInfo } from 'slack-rotator';
import { ServerError, toServerError } from '../errors.js';
import { installationKey } from '../installation-id.js';
import { type BrokerContext, type ResolvedInstallation, resolveInstallation } from './context.js';
import { expiredBody, idParams, type TokenAnswer, tokenAnswer, tokenQuery } from './schemas.js';

/** Slack's access token lifetime (12 h): the library's default `tokenLifetimeMs`. */
const TOKEN_LIFETIME_MS = 43_200_000;

function selectorOf(chain: string): ChainSelector {
  return chain === 'bot' ? 'bot' : { userId: chain.slice('user:'.length) };
}

/** The largest `min_validity` (s) a token can ever satisfy: its lifetime minus the refresh window. */
export function maxMinValiditySeconds(refreshWindowMs: number): number {
  return Math.floor((TOKEN_LIFETIME_MS - refreshWindowMs) / 1000);
}

function tooLarge(maxSeconds: number, cause?: unknown): ServerError {
  return new ServerError(
    'min_validity_too_large',
    `min_validity must be at most ${maxSeconds} seconds (a token's lifetime minus the refresh window); a larger value would refresh on every request`,
    { details: { max_min_validity: maxSeconds }, ...(cause === undefined ? {} : { cause }) },
  );
}

/** Maps the library's argument errors: min validity, or another invalid part of the request. */
function mapLibraryError(error: unknown, maxSeconds: number): ServerError {
  if (error instanceof TypeError && (error as { code?: unknown }).code !== undefined) {
    if (error.message.includes('minValidityMs')) return tooLarge(maxSeconds, error);
    return new ServerError('invalid_request', error.message.replace(/^\[slack-rotator\] /, ''), {
      cause: error,
    });
  }
  return toServerError(error);
}

function answerOf(
  info: TokenInfo,
  installation: ResolvedInstallation,
  chain: string,
  now: number,
): TokenAnswer {
  return {
    token: info.token,
    expires_at: new Date(info.expiresAt).toISOString(),
    expires_in: Math.max(0, Math.floor((info.expiresAt - now) / 1000)),
    installation_id: installation.raw,
    chain,
    bot_id: info.botId,
    bot_user_id: info.botUserId,
    user_id: info.userId,
    scopes: info.scopes,
  };
}

/** Registers the token routes (inside the authenticated scope). */
export function registerTokenRoutes(app: FastifyInstance, context: BrokerContext): void {
  const { backends, auth } = context;
  const maxSeconds = maxMinValiditySeconds(backends.config.refreshWindowMs);

  function authorized(request: FastifyRequest, raw: string): ResolvedInstallation {
    return resolveInstallation(backends, raw, (id) => auth.authorize(request.apiKey, id));
  }

  app.get<{ Params: { id: string }; Querystring: { chain?: string; min_validity?: string } }>(
    '/v1/installations/:id/token',
    { schema: { params: idParams, querystring: tokenQuery, response: { 200: tokenAnswer } } },
    async (request) => {
      const installation = authorized(request, request.params.id);
      const chain = request.query.chain ?? 'bot';
      const minValidity = Number(request.query.min_validity ?? '0');
      if (minValidity > maxSeconds) throw tooLarge(maxSeconds);
      const key = { ...installationKey(installation.parsed), chain: selectorOf(chain) };
      try {
        const info = await installation.app.rotator.getTokenInfo(
          key,
          minValidity === 0 ? undefined : { minValidityMs: minValidity * 1000 },
        );
        return answerOf(info, installation, chain, backends.now());
      } catch (error) {
        throw mapLibraryError(error, maxSeconds);
      }
    },
  );

  app.post<{ Params: { id: string }; Body: { token: string; chain?: string } }>(
    '/v1/installations/:id/token/expired',
    { schema: { params: idParams, body: expiredBody, response: { 200: tokenAnswer } } },
    async (request) => {
      const installation = authorized(request, request.params.id);
      const chain = request.body.chain ?? 'bot';
      const key = { ...installationKey(installation.parsed), chain: selectorOf(chain) };
      try {
        const info = await installation.app.rotator.refresh(key, { ifToken: request.body.token });
        return answerOf(info, installation, chain, backends.now());
      } catch (error) {
        throw mapLibraryError(error, maxSeconds);
      }
    },
  );
}

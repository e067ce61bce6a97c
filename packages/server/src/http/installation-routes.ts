/**
 * `POST /v1/installations` (register an install answer) and `DELETE /v1/installations/{id}`
 * (revoke at Slack, mark revoked, optionally purge). Both need a key that may read every
 * installation (`'*'`).
 */
import type { FastifyInstance } from 'fastify';
import type { Rotator, TokenRecord } from 'slack-rotator';
import { ServerError, toServerError } from '../errors.js';
import { formatInstallationId, installationKey } from '../installation-id.js';
import type { AppConfig } from '../types.js';
import { type BrokerContext, resolveInstallation } from './context.js';
import { appQuery, deleteQuery, idParams, installBody } from './schemas.js';
import { revokeAtSlack } from './slack-revoke.js';

function chainNameOf(record: { kind: string; userId: string | null }): string {
  return record.kind === 'bot' ? 'bot' : `user:${record.userId}`;
}

/** Every bot and user chain of one installation of one app, as stored now. */
async function chainsOf(
  context: BrokerContext,
  clientId: string,
  installationId: string,
): Promise<TokenRecord[]> {
  const records: TokenRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await context.backends.store.list({
      clientId,
      installationId,
      ...(cursor === undefined ? {} : { cursor }),
    });
    cursor = page.cursor;
    for (const record of page.records) if (record.kind !== 'config') records.push(record);
  } while (cursor !== undefined);
  return records;
}

/** Registers the installation routes (inside the authenticated scope). */
export function registerInstallationRoutes(app: FastifyInstance, context: BrokerContext): void {
  const { backends, auth } = context;
  const prefixed = backends.apps.length > 1;

  function appNamed(appId: string | undefined): { config: AppConfig; rotator: Rotator } {
    if (appId === undefined) {
      if (backends.apps.length === 1) return backends.apps[0] as { config: AppConfig; rotator: Rotator };
      throw new ServerError('invalid_request', 'several apps are configured: name the app with ?app=A…');
    }
    const found = backends.apps.find((a) => a.config.appId === appId);
    if (found === undefined) throw new ServerError('unknown_app', `no configured app has app id ${appId}`);
    return found;
  }

  app.post<{ Querystring: { app?: string }; Body: Record<string, unknown> & { bot_id?: string } }>(
    '/v1/installations',
    { schema: { querystring: appQuery, body: installBody } },
    async (request, reply) => {
      auth.authorizeAll(request.apiKey);
      const target = appNamed(request.query.app);
      const { bot_id: botId, ...answer } = request.body;
      const answerApp = typeof answer.app_id === 'string' ? answer.app_id : undefined;
      if (target.config.appId !== undefined && answerApp !== undefined && answerApp !== target.config.appId) {
        throw new ServerError(
          'invalid_request',
          `the answer is for app ${answerApp}, not ${target.config.appId}: name its app with ?app=`,
        );
      }
      let saved: Awaited<ReturnType<Rotator['saveInstallation']>>;
      try {
        saved = await target.rotator.saveInstallation(answer, botId === undefined ? {} : { botId });
      } catch (error) {
        if (error instanceof TypeError) {
          const message = error.message
            .replace(/^\[slack-rotator\] /, '')
            .replace('options.userId', 'user_id');
          throw new ServerError('invalid_request', message, { cause: error });
        }
        throw toServerError(error);
      }
      request.log.info(
        { installationId: saved.installationId, chains: saved.chains.length },
        'installation registered',
      );
      return reply.code(201).send({
        installation_id: formatInstallationId(saved.installationId, target.config.appId, prefixed),
        chains: saved.chains.map((c) => ({
          chain: chainNameOf(c),
          expires_at: new Date(c.expiresAt).toISOString(),
        })),
      });
    },
  );

  app.delete<{ Params: { id: string }; Querystring: { purge?: 'true' | 'false' } }>(
    '/v1/installations/:id',
    { schema: { params: idParams, querystring: deleteQuery } },
    async (request) => {
      const installation = resolveInstallation(backends, request.params.id, () =>
        auth.authorizeAll(request.apiKey),
      );
      const { rotator } = installation.app;
      const purge = request.query.purge === 'true';
      const key = installationKey(installation.parsed);
      try {
        const before = await chainsOf(context, rotator.clientId, installation.parsed.id);
        if (before.length === 0) {
          throw new ServerError('not_found', `no installation ${installation.raw}`);
        }
        // Marked first: once marked, no refresh can store a newer pair, so the tokens read next are
        // the last ones and revoking them at Slack leaves nothing alive. A retry after a Slack
        // failure revokes again (a dead token counts as revoked).
        await rotator.markRevoked(key, { reason: 'revoked_by_broker' });
        const chains = await chainsOf(context, rotator.clientId, installation.parsed.id);
        const failures: { chain: string; reason: string }[] = [];
        for (const record of chains) {
          const outcome = await revokeAtSlack({
            slackApiUrl: context.slackApiUrl,
            token: record.accessToken,
            fetch: context.fetch,
          });
          if (typeof outcome === 'object')
            failures.push({ chain: chainNameOf(record), reason: outcome.failed });
        }
        if (failures.length > 0) {
          throw new ServerError(
            'slack_unavailable',
            'chains are marked revoked, but Slack did not confirm auth.revoke for every token: retry the DELETE',
            { details: { failures } },
          );
        }
        if (purge) await rotator.deleteInstallation(key);
        request.log.info(
          { installationId: installation.raw, chains: chains.length, purge },
          'installation revoked',
        );
        return { revoked: chains.map(chainNameOf), purged: purge };
      } catch (error) {
        throw toServerError(error);
      }
    },
  );
}

/**
 * The OAuth install flow for apps without Bolt: `GET /slack/install[?app=A…]` redirects to Slack's
 * authorize page with a signed `state`; `GET /slack/oauth_redirect` finishes the install and answers
 * a small HTML page. No API key: the signed state is what protects the flow.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isRotatorError, type Rotator } from 'slack-rotator';
import { ServerError, toServerError } from '../errors.js';
import type { AppConfig } from '../types.js';
import type { BrokerContext } from './context.js';
import { appQuery, oauthRedirectQuery } from './schemas.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(reply: FastifyReply, status: number, title: string, text: string): FastifyReply {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}

/** Registers `/slack/install` and `/slack/oauth_redirect`. */
export function registerOAuthRoutes(app: FastifyInstance, context: BrokerContext): void {
  const withFlow = (): { config: AppConfig; rotator: Rotator }[] =>
    context.backends.apps.filter((a) => a.config.stateSecret !== undefined);

  app.get<{ Querystring: { app?: string } }>(
    '/slack/install',
    { schema: { querystring: appQuery } },
    async (request, reply) => {
      const apps = withFlow();
      const wanted = request.query.app;
      const target =
        wanted === undefined
          ? apps.length === 1
            ? apps[0]
            : undefined
          : apps.find((a) => a.config.appId === wanted);
      if (target === undefined) {
        throw new ServerError(
          'not_found',
          wanted === undefined && apps.length > 1
            ? 'several apps have an install flow: name one with ?app=A…'
            : 'no install flow for this app (it needs a state secret)',
        );
      }
      const { url } = target.rotator.installUrl({
        scopes: target.config.scopes,
        userScopes: target.config.userScopes,
        ...(target.config.redirectUri === undefined ? {} : { redirectUri: target.config.redirectUri }),
      });
      return reply.redirect(url, 302);
    },
  );

  app.get<{ Querystring: { code?: string; state?: string; error?: string } }>(
    '/slack/oauth_redirect',
    { schema: { querystring: oauthRedirectQuery } },
    async (request, reply) => {
      const { code, state, error } = request.query;
      if (error !== undefined) {
        return page(
          reply,
          400,
          'Installation cancelled',
          `Slack answered: ${error}. Start the install again.`,
        );
      }
      if (!code || !state) {
        return page(reply, 400, 'Installation failed', 'The redirect is missing its code or state.');
      }
      // The state is signed per app: the app whose secret verifies it is the app being installed.
      for (const target of withFlow()) {
        try {
          const saved = await target.rotator.completeInstall({
            code,
            state,
            ...(target.config.redirectUri === undefined ? {} : { redirectUri: target.config.redirectUri }),
          });
          request.log.info({ installationId: saved.installationId }, 'installation completed');
          return page(
            reply,
            200,
            'Installed',
            `The app is installed in ${saved.installationId}. You can close this page.`,
          );
        } catch (failure) {
          if (isRotatorError(failure) && failure.code === 'invalid_state') continue;
          const mapped = toServerError(failure);
          request.log.warn({ code: mapped.code }, 'installation failed');
          return page(reply, mapped.status, 'Installation failed', mapped.message);
        }
      }
      return page(
        reply,
        400,
        'Installation failed',
        'The install link expired or is not valid. Start the install again.',
      );
    },
  );
}

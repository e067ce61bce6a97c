import { authTestAnswer, type Identity } from './fake-slack-chain.js';
import { type Answer, answerOf, type Call, fail } from './fake-slack-http.js';
import type { FakeSlackState } from './fake-slack-state.js';

/** Answers one call of a Web API method (faults aside), from the state. */
export type MethodDispatcher = (call: Call) => Answer;

/**
 * The Web API methods of the fake Slack: `oauth.v2.access`, `oauth.v2.exchange`,
 * `tooling.tokens.rotate`, `auth.test`, `auth.revoke`, `chat.postMessage`. Anything else answers
 * HTTP 404 `unknown_method`.
 */
export function createMethods(settings: {
  state: FakeSlackState;
  clientId: string;
  clientSecret: string;
  appId: string;
  now: () => number;
}): MethodDispatcher {
  const { state, clientId, clientSecret, appId, now } = settings;
  let messages = 0;

  function clientError(call: Call): string | undefined {
    const id = call.basic?.id ?? call.params.client_id;
    const secret = call.basic?.secret ?? call.params.client_secret;
    if (id === undefined || id === '' || id !== clientId) return 'invalid_client_id';
    if (secret !== clientSecret) return 'bad_client_secret';
    return undefined;
  }

  function withToken(
    call: Call,
    then: (token: string, identity: Identity, chainId: string | undefined) => Answer,
  ) {
    const token = call.bearer ?? call.params.token;
    if (token === undefined || token === '') return fail('not_authed');
    const outcome = state.authenticate(token);
    if (!outcome.ok) return fail(outcome.error, outcome.chainId);
    return then(token, outcome.body, outcome.chainId);
  }

  return function dispatch(call: Call): Answer {
    const { params } = call;
    switch (call.method) {
      case 'oauth.v2.access': {
        const error = clientError(call);
        if (error !== undefined) return fail(error);
        const grantType = params.grant_type ?? 'authorization_code';
        if (grantType === 'refresh_token') {
          if (!params.refresh_token) return fail('invalid_arguments');
          return answerOf(state.refresh(params.refresh_token, 'oauth'));
        }
        if (grantType !== 'authorization_code') return fail('invalid_grant_type');
        if (!params.code) return fail('invalid_arguments');
        return answerOf(state.redeemAuthorizationCode(params.code));
      }
      case 'oauth.v2.exchange': {
        const error = clientError(call);
        if (error !== undefined) return fail(error);
        if (!params.token) return fail('invalid_arguments');
        return answerOf(state.exchange(params.token));
      }
      case 'tooling.tokens.rotate':
        if (!params.refresh_token) return fail('invalid_arguments');
        return answerOf(state.refresh(params.refresh_token, 'tooling'));
      case 'auth.test':
        return withToken(call, (_token, identity, chainId) => ({
          status: 200,
          body: authTestAnswer(identity, appId),
          chainId,
        }));
      case 'auth.revoke':
        return withToken(call, (token, _identity, chainId) => {
          const test = params.test === '1' || params.test === 'true';
          if (!test) state.revokeToken(token);
          return { status: 200, body: { ok: true, revoked: !test }, chainId };
        });
      case 'chat.postMessage':
        return withToken(call, (_token, identity, chainId) => {
          if (!params.channel) return fail('invalid_arguments', chainId);
          if (params.text === undefined && params.blocks === undefined && params.attachments === undefined) {
            return fail('no_text', chainId);
          }
          messages += 1;
          const ts = `${Math.floor(now() / 1000)}.${String(messages).padStart(6, '0')}`;
          const author = {
            user: identity.userId,
            ...(identity.botId === null ? {} : { bot_id: identity.botId }),
          };
          const message = { type: 'message', text: params.text ?? '', ...author, ts };
          return { status: 200, body: { ok: true, channel: params.channel, ts, message }, chainId };
        });
      default:
        return fail('unknown_method', undefined, 404);
    }
  };
}

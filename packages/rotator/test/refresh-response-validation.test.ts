import { afterEach, describe, expect, test } from 'vitest';
import { RetryLaterError } from '../src/errors.js';
import { type Harness, harness } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** A fetch that lets the fake Slack rotate for real, then rewrites its answer to a refresh. */
function rewriting(edit: (body: Record<string, unknown>) => Record<string, unknown>): typeof fetch {
  return async (url, init) => {
    const response = await fetch(url, init);
    if (!String(url).endsWith('oauth.v2.access')) return response;
    const body = edit((await response.json()) as Record<string, unknown>);
    return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
  };
}

async function refreshWith(edit: (body: Record<string, unknown>) => Record<string, unknown>) {
  h = await harness({ rotator: { fetch: rewriting(edit) } });
  const [chainKey] = (await h.installWith({ teamId: 'T1' }, 5_000)) as [string];
  const before = await h.store.get(chainKey);
  let error: unknown;
  try {
    await h.rotator.refresh({ teamId: 'T1' }, { force: true });
  } catch (caught) {
    error = caught;
  }
  const after = await h.store.get(chainKey);
  const issued = h.slack.calls.length;
  return { before, after, error, issued };
}

const without =
  (...fields: string[]) =>
  (body: Record<string, unknown>) => {
    const copy = { ...body };
    for (const field of fields) delete copy[field];
    return copy;
  };

describe('an odd ok:true answer loses no refresh token', () => {
  test('missing refresh_token: the new access token is stored, the old refresh token kept, then a typed error', async () => {
    const { before, after, error } = await refreshWith(without('refresh_token'));
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).code).toBe('unexpected_response');
    expect(after?.version).toBe((before?.version as number) + 1);
    expect(after?.refreshToken === before?.refreshToken).toBe(true);
    expect(after?.accessToken === before?.accessToken).toBe(false);
    expect(h.slack.peekAccessToken(after?.accessToken as string)).toBe('active');
    expect(h.logger.lines.some((l) => l.msg.includes('unexpected ok:true'))).toBe(true);
  });

  test('missing access_token: the new refresh token is stored and the chain is due at once', async () => {
    const { before, after, error } = await refreshWith(without('access_token'));
    expect((error as RetryLaterError).code).toBe('unexpected_response');
    expect(after?.refreshToken === before?.refreshToken).toBe(false);
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
    expect(after?.expiresAt).toBeLessThanOrEqual(Date.now());
    // The next use refreshes with the stored (new) refresh token.
    const fixedFetch = h.another({ fetch });
    const token = await fixedFetch.getToken({ teamId: 'T1' });
    expect(h.slack.peekAccessToken(token)).toBe('active');
  });

  test('missing expires_in: the pair is stored with expiresAt = now', async () => {
    const { before, after, error } = await refreshWith(without('expires_in'));
    expect((error as RetryLaterError).code).toBe('unexpected_response');
    expect(after?.refreshToken === before?.refreshToken).toBe(false);
    expect(after?.accessToken === before?.accessToken).toBe(false);
    expect(after?.expiresAt).toBeLessThanOrEqual(Date.now());
  });

  test('a token_type other than the chain asked for is stored into the chain asked for', async () => {
    const { after, error } = await refreshWith((body) => ({ ...body, token_type: 'user' }));
    expect((error as RetryLaterError).code).toBe('unexpected_response');
    expect(after?.kind).toBe('bot');
    expect(h.slack.peekRefreshToken(after?.refreshToken as string)).toBe('active');
  });
});

describe('an ok:false answer leaves the stored pair intact', () => {
  test.each(['some_new_error', 'invalid_arguments'])('%s', async (slackError) => {
    const { before, after, error } = await refreshWith(() => ({ ok: false, error: slackError }));
    expect((error as { slackError?: string }).slackError).toBe(slackError);
    expect(after).toEqual(before);
  });
});

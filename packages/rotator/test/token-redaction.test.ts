import { afterEach, describe, expect, test } from 'vitest';
import { assertNoTokens, type Harness, harness, TOKEN_PATTERN } from './helpers/setup.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const attempt = async (run: () => Promise<unknown>, errors: unknown[]) => {
  try {
    await run();
  } catch (error) {
    errors.push(error);
  }
};

describe('tokens never leak', () => {
  test('the scan itself catches a token in a log line', () => {
    expect(() => assertNoTokens([{ level: 'info', msg: 'x', obj: { token: 'xoxe.xoxb-1-abc' } }])).toThrow(
      /token material/,
    );
    expect(TOKEN_PATTERN.test('xoxe-1-abc')).toBe(true);
    expect(TOKEN_PATTERN.test('chain A1:T1:bot')).toBe(false);
  });

  test('no log line, event or error of any failure path carries a token', async () => {
    h = await harness({ slack: { refreshGraceMs: 50, latencyMs: 5 }, rotator: { requestTimeoutMs: 500 } });
    const errors: unknown[] = [];
    for (let i = 0; i < 6; i++)
      await h.installWith({ teamId: `T${i}`, userId: 'U1', withUserToken: true }, 0);
    h.slack.injectFault('http_500', { count: 4 });
    await attempt(() => h.rotator.getToken({ teamId: 'T0' }), errors);
    h.slack.injectFault('rate_limited', { count: 3, retryAfterSeconds: 0 });
    await attempt(() => h.rotator.refresh({ teamId: 'T1' }, { force: true }), errors);
    h.slack.injectFault('rotate_then_drop');
    await attempt(() => h.rotator.getToken({ teamId: 'T2' }), errors);
    h.slack.injectFault('html', { count: 4 });
    await attempt(() => h.rotator.refresh({ teamId: 'T3' }, { force: true }), errors);
    h.slack.injectFault('connection_reset', { count: 4 });
    await attempt(() => h.rotator.refresh({ teamId: 'T4' }, { force: true }), errors);
    const dead = await h.store.get(`${h.slack.clientId}:T5:bot`);
    h.slack.revokeChain(dead?.refreshToken as string);
    await attempt(() => h.rotator.getToken({ teamId: 'T5' }), errors);
    await attempt(() => h.rotator.getToken({ teamId: 'T5', chain: { userId: 'U1' } }), errors);
    await attempt(
      () => h.another({ clientSecret: 'wrong' }).refresh({ teamId: 'T1' }, { force: true }),
      errors,
    );
    await attempt(
      () =>
        h.rotator.saveInstallation({
          ok: true,
          team: { id: 'T1' },
          access_token: 'xoxe.xoxb-1-leak',
          expires_in: 1,
          refresh_token: 7,
        }),
      errors,
    );
    await attempt(() => h.rotator.getToken({ teamId: 'T404' }), errors);

    expect(errors.length).toBeGreaterThanOrEqual(8);
    expect(h.logger.lines.length).toBeGreaterThan(10);
    assertNoTokens(h.logger.lines, errors);
    for (const error of errors) expect(TOKEN_PATTERN.test(String((error as Error).stack))).toBe(false);
  });
});

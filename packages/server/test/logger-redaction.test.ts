import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED_FIELDS } from '../src/logger.js';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('prints [Redacted] for every token-ish field, at the top and nested, and never the value', () => {
    const out = capture();
    const logger = createLogger({ logLevel: 'info' }, { destination: out.stream });
    const secret = (name: string) => `xoxe.xoxp-1-${name}-must-not-appear`;
    const top = Object.fromEntries(REDACTED_FIELDS.map((field) => [field, secret(`top-${field}`)]));
    const nested = Object.fromEntries(REDACTED_FIELDS.map((field) => [field, secret(`nested-${field}`)]));
    logger.info(
      {
        ...top,
        installationId: 'T123',
        record: nested,
        req: { headers: { authorization: secret('header'), host: 'localhost' } },
      },
      'refreshed',
    );
    const [line] = out.lines();
    for (const field of REDACTED_FIELDS) {
      expect(line?.[field]).toBe('[Redacted]');
      expect((line?.record as Record<string, unknown>)[field]).toBe('[Redacted]');
    }
    expect(line).toMatchObject({
      installationId: 'T123',
      msg: 'refreshed',
      req: { headers: { authorization: '[Redacted]', host: 'localhost' } },
    });
    expect(out.text()).not.toMatch(/must-not-appear/);
  });

  it('keeps error codes and honours the configured level', () => {
    const out = capture();
    const logger = createLogger(
      { logLevel: 'warn' },
      { destination: out.stream, base: { component: 'test' } },
    );
    logger.info({ a: 1 }, 'dropped');
    logger.warn({ err: Object.assign(new Error('store down'), { code: 'store_failed' }) }, 'kept');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'kept',
      component: 'test',
      err: { code: 'store_failed', message: 'store down' },
    });
  });
});

/**
 * The broker in this process (helpers/in-process-broker.ts): the OAuth install flow, HTTPS with a
 * self-signed certificate made at test time, and the request logs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeSlack } from 'slack-rotator/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { createInProcessBroker } from './helpers/in-process-broker.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { tls?: { certFile: string; keyFile: string } } = {}) {
  const broker = await createInProcessBroker(options);
  cleanups.push(() => broker.close());
  return { ...broker, slack: broker.slacks[0] as FakeSlack };
}

describe('OAuth install flow', () => {
  test('/slack/install redirects to Slack with a signed state; /slack/oauth_redirect saves the install', async () => {
    const s = await setup();
    const start = await s.broker.app.inject({ method: 'GET', url: '/slack/install' });
    expect(start.statusCode).toBe(302);
    const location = new URL(start.headers.location as string);
    expect(location.origin + location.pathname).toBe('https://slack.com/oauth/v2/authorize');
    expect(location.searchParams.get('client_id')).toBe(s.slack.clientId);
    expect(location.searchParams.get('scope')).toBe('chat:write');
    const state = location.searchParams.get('state') as string;
    expect(state.length).toBeGreaterThan(20);

    const code = s.slack.createAuthorizationCode({ teamId: 'T7' });
    const done = await s.broker.app.inject({
      method: 'GET',
      url: `/slack/oauth_redirect?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`,
    });
    expect(done.statusCode).toBe(200);
    expect(done.headers['content-type']).toMatch(/text\/html/);
    expect(done.body).toContain('Installed');
    expect((await s.backends.store.get(`${s.slack.clientId}:T7:bot`))?.status).toBe('active');
    // The code and state travelled in the query string, which request logs leave out.
    const logs = s.lines.join('');
    expect(logs).toContain('/slack/oauth_redirect');
    expect(logs).not.toContain(code);
    expect(logs).not.toContain(state);
  });

  test('a forged state → an HTML failure page, nothing saved, Slack not called', async () => {
    const s = await setup();
    const code = s.slack.createAuthorizationCode({ teamId: 'T8' });
    const answer = await s.broker.app.inject({
      method: 'GET',
      url: `/slack/oauth_redirect?code=${code}&state=forged.state.value`,
    });
    expect(answer.statusCode).toBe(400);
    expect(answer.body).toContain('Installation failed');
    expect(await s.backends.store.get(`${s.slack.clientId}:T8:bot`)).toBeUndefined();
    expect(s.slack.calls.filter((c) => c.method === 'oauth.v2.access')).toHaveLength(0);
  });

  test('a user who cancels at Slack gets a clear page', async () => {
    const s = await setup();
    const answer = await s.broker.app.inject({
      method: 'GET',
      url: '/slack/oauth_redirect?error=access_denied',
    });
    expect(answer.statusCode).toBe(400);
    expect(answer.body).toContain('access_denied');
  });
});

describe('TLS', () => {
  test('with listen.tls the broker answers HTTPS with the configured certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const s = await setup({ tls: { certFile, keyFile } });
    await s.broker.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = s.broker.app.server.address() as { port: number };
    const ca = (await import('node:fs')).readFileSync(certFile);
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', reject).end();
    });
    expect(body).toBe('200 {"ok":true}');
    // Plain HTTP on the same port is not served.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});

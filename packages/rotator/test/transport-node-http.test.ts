// The default transport sends with node:http(s) and keep-alive agents of its own (slack/node-http.ts)
// rather than the global fetch. Against a real HTTP server on port 0: answers are read as fetch
// would read them, a broken answer is a network failure, a slow one a timeout whose late answer is
// still read, connections are reused, close() ends them, and idle sockets keep no process alive.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { createTransport, type RawResult } from '../src/slack/transport.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Server {
  url: string;
  connections: () => number;
  open: () => number;
  requests: { body: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

async function serve(handler: http.RequestListener): Promise<Server> {
  const requests: Server['requests'] = [];
  let connections = 0;
  let open = 0;
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      requests.push({ body, authorization: request.headers.authorization });
      handler(request, response);
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    open += 1;
    socket.on('close', () => {
      open -= 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    connections: () => connections,
    open: () => open,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): http.RequestListener =>
  (_request, response) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

const credentials = { clientId: '1.2', clientSecret: 'not-a-secret', method: 'basic' as const };
let servers: Server[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

function transportFor(server: Server, timeoutMs = 5_000, lateAnswerMs = 5_000) {
  servers.push(server);
  const transport = createTransport(
    { slackApiUrl: server.url, fetch: undefined, timeoutMs, lateAnswerMs },
    Date.now,
  );
  closers.push(() => transport.close());
  return transport;
}

describe('the default transport (node:http)', () => {
  test('posts the form with Basic credentials, reads JSON and Retry-After, and reuses one connection', async () => {
    const server = await serve(json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': '7' }));
    const transport = transportFor(server);
    const first = await transport.send(
      'oauth.v2.access',
      { grant_type: 'refresh_token', refresh_token: 'r' },
      credentials,
    );
    const second = await transport.send(
      'oauth.v2.access',
      { grant_type: 'refresh_token', refresh_token: 'r' },
      credentials,
    );
    for (const result of [first, second]) {
      expect(result).toEqual({
        kind: 'json',
        status: 429,
        body: { ok: false, error: 'ratelimited' },
        retryAfterMs: 7_000,
      });
    }
    expect(server.requests[0]?.body).toBe('grant_type=refresh_token&refresh_token=r');
    expect(server.requests[0]?.authorization).toBe(
      `Basic ${Buffer.from('1.2:not-a-secret').toString('base64')}`,
    );
    expect(server.connections(), 'TCP connections for two requests').toBe(1);
  });

  test('an answer that is not JSON says so, with its status and content type', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<html>bad gateway</html>');
    });
    const result = await transportFor(server).send('oauth.v2.access', {}, credentials);
    expect(result).toEqual({ kind: 'not_json', status: 502, contentType: 'text/html' });
  });

  test('a connection broken in the middle of the body is a network failure', async () => {
    const server = await serve((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      response.write('{"ok":true,"access_token":');
      setTimeout(() => request.socket.destroy(), 20);
    });
    const result = await transportFor(server).send('oauth.v2.access', {}, credentials);
    expect(result.kind).toBe('network');
  });

  test('a refused connection is a network failure', async () => {
    const server = await serve(json(200, { ok: true }));
    const url = server.url;
    await server.close();
    const transport = createTransport(
      { slackApiUrl: url, fetch: undefined, timeoutMs: 5_000, lateAnswerMs: 0 },
      Date.now,
    );
    closers.push(() => transport.close());
    expect((await transport.send('oauth.v2.access', {}, credentials)).kind).toBe('network');
  });

  test('a slow answer is a timeout whose late answer is still read', async () => {
    const server = await serve((request, response) => {
      setTimeout(() => json(200, { ok: true, late: 'yes' })(request, response), 300);
    });
    const result = await transportFor(server, 50, 5_000).send('oauth.v2.access', {}, credentials);
    expect(result.kind).toBe('timeout');
    const late = await (result as Extract<RawResult, { kind: 'timeout' }>).late;
    expect(late).toMatchObject({ kind: 'json', status: 200, body: { ok: true, late: 'yes' } });
  });

  test('close() aborts what is in flight and ends the kept-alive connections', async () => {
    const server = await serve(json(200, { ok: true }));
    const transport = transportFor(server);
    await transport.send('auth.test', {}, { bearer: 'xoxb-not-real' });
    expect(server.open()).toBe(1);
    transport.close();
    for (let i = 0; i < 100 && server.open() > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.open(), 'connections still open after close()').toBe(0);
  });

  test('an idle kept-alive connection does not keep the process alive', async () => {
    const server = await serve(json(200, { ok: true }));
    servers.push(server);
    // A child process sends one request and ends its script without closing the transport.
    const script = `
      import { createTransport } from ${JSON.stringify(path.join(here, '../src/slack/transport.ts'))};
      const t = createTransport({ slackApiUrl: ${JSON.stringify(server.url)}, fetch: undefined, timeoutMs: 5000, lateAnswerMs: 0 }, Date.now);
      const r = await t.send('auth.test', {}, { bearer: 'xoxb-not-real' });
      console.log(r.kind);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const exited = await new Promise<number | null | 'hung'>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('hung');
      }, 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    expect(out.trim()).toBe('json');
    expect(exited, 'the child kept running with an idle connection open').toBe(0);
    expect(server.connections()).toBe(1);
  });
});

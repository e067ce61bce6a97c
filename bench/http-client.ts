/**
 * CPU per Slack request: the global fetch against the default sender (node:http with a keep-alive
 * agent, packages/rotator/src/slack/node-http.ts), side by side in one process. Each round sends
 * 1,000 concurrent form POSTs to a local server that answers a refresh-shaped JSON body after 50 ms
 * (as the storm's fake Slack does) and reads this process's CPU time (user + system, the server's
 * share included, the same for both), and the longest the event loop was held while the 1,000
 * requests were being started. Five rounds each, alternating; medians.
 *
 *   npx tsx bench/http-client.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeHttp, type HttpSend, sendWithFetch } from '../packages/rotator/src/slack/node-http.js';

const REQUESTS = 1_000;
const ROUNDS = 5;
const body = 'grant_type=refresh_token&refresh_token=xoxe-1-not-a-real-token';
const answer = JSON.stringify({
  ok: true,
  access_token: 'xoxe.xoxb-1-not-a-real-token',
  refresh_token: 'xoxe-1-not-a-real-token',
  expires_in: 43_200,
  token_type: 'bot',
});

const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(answer);
    }, 50);
  });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/oauth.v2.access`;

async function round(send: HttpSend): Promise<{ cpuUs: number; startMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const pending: Promise<string>[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const signal = new AbortController().signal;
    pending.push(
      send(url, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal }).then(
        (r) => r.text(),
      ),
    );
  }
  const startMs = performance.now() - started;
  await Promise.all(pending);
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / REQUESTS, startMs };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const own = createNodeHttp();
const senders: [string, HttpSend][] = [
  ['global fetch', sendWithFetch(globalThis.fetch)],
  ['node:http (default)', own.send],
];
const results = new Map<string, { cpuUs: number[]; startMs: number[] }>();
// One warm-up round each (connections, code paths), then the measured rounds, alternating.
for (const [, send] of senders) await round(send);
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, send] of senders) {
    const { cpuUs, startMs } = await round(send);
    const entry = results.get(name) ?? { cpuUs: [], startMs: [] };
    entry.cpuUs.push(cpuUs);
    entry.startMs.push(startMs);
    results.set(name, entry);
  }
}
console.log(`${REQUESTS} concurrent POSTs per round, ${ROUNDS} rounds each (medians):`);
for (const [name, { cpuUs, startMs }] of results) {
  console.log(
    `${name.padEnd(20)} CPU per request ${median(cpuUs).toFixed(0)} µs (server's share included) · starting all ${REQUESTS} held the loop ${median(startMs).toFixed(0)} ms`,
  );
}
own.close();
server.close();

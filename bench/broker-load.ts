/**
 * The load process of `npm run bench:broker`: `CONNECTIONS` keep-alive connections (one node:http
 * Agent), each sending token requests back to back for `SECONDS`, after a warm-up. Prints one JSON
 * line: requests, requests per second, p50/p99 latency (ns).
 * Usage: node --import tsx bench/broker-load.ts <url> <path> <apiKey> <connections> <seconds>
 */
import { Agent, request } from 'node:http';
import { quantile } from './measure.js';

const [url, path, apiKey, connectionsText, secondsText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const connections = Number(connectionsText);
const seconds = Number(secondsText);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: connections });

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path,
        headers: { authorization: `Bearer ${apiKey}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject).end();
  });
}

async function worker(until: number, samples: number[] | undefined): Promise<number> {
  let count = 0;
  while (performance.now() < until) {
    const start = process.hrtime.bigint();
    const status = await once();
    if (status !== 200) throw new Error(`the broker answered ${status}`);
    samples?.push(Number(process.hrtime.bigint() - start));
    count++;
  }
  return count;
}

const run = (ms: number, samples?: number[]) => {
  const until = performance.now() + ms;
  return Promise.all(Array.from({ length: connections }, () => worker(until, samples)));
};

const warmup = (await run(1_000)).reduce((a, b) => a + b, 0);
const samples: number[] = [];
const started = performance.now();
const counts = await run(seconds * 1000, samples);
const elapsedS = (performance.now() - started) / 1000;
const sorted = Float64Array.from(samples).sort();
const requests = counts.reduce((a, b) => a + b, 0);
process.stdout.write(
  `${JSON.stringify({ requests, warmup, rps: requests / elapsedS, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) })}\n`,
);
agent.destroy();

/**
 * `npm run bench:broker`: the broker's warm token request on loopback. The server runs in its own
 * process (the real CLI, SQLite store, fake Slack), a separate load process keeps 8 keep-alive
 * connections busy for 10 s; 3 runs, medians of p50, p99 and requests per second.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { promisify } from 'node:util';
import { call, createBrokerFixture } from '../packages/server/test/helpers/broker-fixture.js';
import { duration, median, rate } from './measure.js';

const RUNS = 3;
const CONNECTIONS = 8;
const SECONDS = 10;
const run = promisify(execFile);

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux; 10 ms ticks). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A free loopback port (the server logs its address at info level only; at warn it is probed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function main(): Promise<void> {
  const results: { label: string; p50: number[]; p99: number[]; rps: number[]; cpuUs: number[] }[] = [];
  for (const logLevel of ['info', 'debug']) {
    const fixture = await createBrokerFixture({ env: { SLACK_ROTATOR_LOG_LEVEL: logLevel } });
    try {
      const key = await fixture.createKey('*');
      const server = await fixture.start(
        { SLACK_ROTATOR_LISTEN: `127.0.0.1:${await freePort()}` },
        { outputLimit: 1 << 20 },
      );
      const saved = await call(server.url, 'POST', '/v1/installations', {
        key,
        json: fixture.slack.install({ teamId: 'T1' }),
      });
      if (saved.status !== 201) throw new Error(`registering failed: ${saved.text}`);
      const path = '/v1/installations/T1/token';
      if ((await call(server.url, 'GET', path, { key })).status !== 200) throw new Error('no warm token');
      const result = {
        label: `log level ${logLevel}`,
        p50: [] as number[],
        p99: [] as number[],
        rps: [] as number[],
        cpuUs: [] as number[],
      };
      const pid = server.child.pid as number;
      for (let i = 0; i < RUNS; i++) {
        const cpuBefore = cpuMs(pid);
        const { stdout } = await run(
          process.execPath,
          [
            '--import',
            'tsx',
            new URL('./broker-load.ts', import.meta.url).pathname,
            server.url,
            path,
            key,
            String(CONNECTIONS),
            String(SECONDS),
          ],
          { maxBuffer: 1 << 20 },
        );
        const line = JSON.parse(stdout.trim()) as {
          rps: number;
          p50: number;
          p99: number;
          requests: number;
          warmup: number;
        };
        // The server's own CPU per request: a measure the other processes on the machine barely move.
        const cpuUs = ((cpuMs(pid) - cpuBefore) * 1000) / (line.requests + line.warmup);
        result.cpuUs.push(cpuUs);
        result.p50.push(line.p50);
        result.p99.push(line.p99);
        result.rps.push(line.rps);
        process.stderr.write(
          `${result.label} run ${i + 1}/${RUNS}: ${line.requests} requests, p50 ${duration(line.p50)}, p99 ${duration(line.p99)}, ${rate(line.rps)}, server CPU ${cpuUs.toFixed(0)} µs/request (load ${loadavg()[0]?.toFixed(1)})\n`,
        );
      }
      results.push(result);
      await server.stop('SIGTERM');
    } finally {
      await fixture.close();
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `Broker, warm token, ${CONNECTIONS} keep-alive connections from a separate process, ${SECONDS} s x ${RUNS} runs (medians)`,
  );
  console.log(
    `${cpus().length} x ${cpu}, Node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log('| server log level | p50 | p99 | requests/s | server CPU per request |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(
      `| ${r.label.replace('log level ', '')} | ${duration(median(r.p50))} | ${duration(median(r.p99))} | ${rate(median(r.rps))} | ${median(r.cpuUs).toFixed(0)} µs |`,
    );
  }
}

await main();

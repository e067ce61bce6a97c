// One process of a fleet: a rotator on the shared backend, calling Slack through withToken for
// every team until SIGTERM, then printing a summary line. Killed with SIGKILL, it prints nothing.
import { createRotator } from '../../src/manager.js';
import type { WorkerConfig, WorkerSummary } from './config.js';
import { openStore } from './open-store.js';

const config = JSON.parse(process.env.FLEET_CONFIG ?? '{}') as WorkerConfig;
const opened = await openStore(config.backend, config.name);
const rotator = createRotator({
  clientId: config.clientId,
  clientSecret: config.clientSecret,
  store: opened.store,
  ...(opened.lock === undefined ? {} : { lock: opened.lock }),
  slackApiUrl: config.slackUrl,
  now: () => Date.now() + config.skewMs,
  tokenLifetimeMs: config.lifetimeMs,
  refreshWindowMs: config.lifetimeMs / 3,
  refreshJitterMs: config.lifetimeMs / 30,
  cacheTtlMs: config.lifetimeMs / 20,
  requestTimeoutMs: config.requestTimeoutMs,
  lockTtlMs: config.lockTtlMs,
  lockWaitMs: config.lockTtlMs * 3,
  ambiguousRetryDelaysMs: [50, 150, 300, 500],
  rateLimitMaxWaitMs: 500,
});
const summary: WorkerSummary = { name: config.name, ok: 0, failures: {} };
let running = true;

async function post(token: string): Promise<{ ok: boolean; error?: string }> {
  const response = await fetch(`${config.slackUrl}chat.postMessage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: new URLSearchParams({ channel: 'C1', text: 'hello' }),
  });
  return (await response.json()) as { ok: boolean; error?: string };
}

const count = (code: string) => {
  summary.failures[code] = (summary.failures[code] ?? 0) + 1;
};

async function loop(teamId: string): Promise<void> {
  while (running) {
    try {
      const answer = await rotator.withToken({ teamId }, post);
      if (answer.ok) summary.ok++;
      else count(answer.error ?? 'unknown');
    } catch (error) {
      count(String((error as { code?: unknown }).code ?? 'thrown'));
    }
    await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 30));
  }
}

const loops = Promise.all(config.teams.map((teamId) => loop(teamId)));
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  running = false;
});
await loops;
await rotator.close();
await opened.close();
process.stdout.write(`SUMMARY ${JSON.stringify(summary)}\n`);

/** The demo's load: a seeded PRNG, `chat.postMessage` by plain `fetch`, and bursts on shared ticks. */
import { setTimeout as sleep } from 'node:timers/promises';
import { SETTINGS } from './config.js';
import type { Workspace } from './protocol.js';

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence in every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The part of a Slack Web API answer the demo looks at. */
export interface SlackAnswer {
  ok: boolean;
  error?: string;
}

/** `chat.postMessage` with a bearer token, by plain `fetch`; Slack's errors come back as `{ ok: false }`. */
export async function postMessage(slackApiUrl: string, token: string, text: string): Promise<SlackAnswer> {
  const response = await fetch(`${slackApiUrl}chat.postMessage`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ channel: 'C0DEMO', text }),
  });
  const body = (await response.json()) as { ok?: unknown; error?: unknown };
  return body.ok === true
    ? { ok: true }
    : { ok: false, error: typeof body.error === 'string' ? body.error : `http_${response.status}` };
}

/** Options of {@link runBursts}. */
export interface BurstPlan {
  startAt: number;
  endAt: number;
  workspaces: readonly Workspace[];
  random: () => number;
  /** One API call for a workspace; never rejects. */
  call: (workspace: Workspace) => Promise<void>;
}

/**
 * Fires bursts at the shared ticks `startAt + k × burstMs` until `endAt`: in each, a seeded share of
 * the workspaces gets a few concurrent calls. Every client uses the same ticks, so several processes
 * commonly find the same chain due at the same moment — the situation that breaks unlocked refresh.
 */
export async function runBursts(plan: BurstPlan): Promise<void> {
  const { burstMs, workspaceShare, maxCallsPerWorkspace } = SETTINGS;
  for (let tick = 0; ; ) {
    const at = plan.startAt + tick * burstMs;
    if (at >= plan.endAt) return;
    const wait = at - Date.now();
    if (wait > 0) await sleep(wait);
    const calls: Promise<void>[] = [];
    for (const workspace of plan.workspaces) {
      if (plan.random() >= workspaceShare) continue;
      const count = 1 + Math.floor(plan.random() * maxCallsPerWorkspace);
      for (let i = 0; i < count; i++) calls.push(plan.call(workspace));
    }
    await Promise.all(calls);
    // A slow burst skips the ticks it overran rather than piling bursts up.
    tick = Math.max(tick + 1, Math.ceil((Date.now() - plan.startAt) / burstMs));
  }
}

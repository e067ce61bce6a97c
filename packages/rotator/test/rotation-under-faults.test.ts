import { afterEach, test } from 'vitest';
import type { FakeSlack } from '../src/testing/fake-slack.js';
import { faultFleet, seedOf } from './helpers/fault-fleet.js';

let slack: FakeSlack | undefined;
afterEach(async () => {
  await slack?.close();
});

test('three processes under random Slack faults lose no chain (short, seeded)', async () => {
  slack = await faultFleet({ seed: seedOf(), processes: 3, teams: 4, durationMs: 10_000, lifetimeMs: 2_000 });
}, 60_000);

import { afterEach, test } from 'vitest';
import type { FakeSlack } from '../src/testing/fake-slack.js';
import { faultFleet, seedOf } from './helpers/fault-fleet.js';

let slack: FakeSlack | undefined;
afterEach(async () => {
  await slack?.close();
});

const minutes = Number(process.env.SLACK_ROTATOR_SOAK_MINUTES ?? 3);

test(
  `six processes under random Slack faults for ${minutes} minutes lose no chain`,
  async () => {
    slack = await faultFleet({
      seed: seedOf(),
      processes: 6,
      teams: 12,
      durationMs: minutes * 60_000,
      lifetimeMs: 3_000,
    });
  },
  (minutes + 2) * 60_000,
);

import { expect } from 'vitest';
import type { FleetReport } from './orchestrator.js';

/** The fleet invariants: no stale write, no lockout by us, every chain checked, Slack actually rotated. */
export function expectInvariants(report: FleetReport): void {
  const context = [
    `seed ${report.seed} (SLACK_ROTATOR_SEED=${report.seed} replays the fault schedule)`,
    `policy: ${report.policy}`,
    `schedule: ${report.schedule.join('; ') || 'none'}`,
    `rotations ${report.rotations}, refresh calls ${report.refreshCalls}, lost rotations detected ${report.lostRotationsDetected}`,
  ].join('\n');
  expect(report.staleWrites, `stale writes accepted\n${context}`).toBe(0);
  expect(report.lockoutsByUs, `chains locked out by us\n${context}`).toEqual([]);
  expect(report.unverified, `chains that could not be checked\n${context}`).toEqual([]);
  expect(report.rotations, `rotations\n${context}`).toBeGreaterThan(0);
  expect(report.workers.length, `workers that ended cleanly\n${context}`).toBeGreaterThan(0);
}

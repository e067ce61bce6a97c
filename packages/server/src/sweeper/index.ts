export type { Budget, BudgetOptions } from './budget.js';
export { BUDGET_HEADROOM, BUDGET_NAME, createBudget } from './budget.js';
export type { Horizon, PlannerSettings, TokenTiming } from './planner.js';
export {
  createBacklogScan,
  DEADLINE_FRACTION,
  isDue,
  mayRefresh,
  mayRefreshFrom,
  timingOf,
} from './planner.js';
export type { FleetSweeper, FleetSweeperOptions } from './start.js';
export { startFleetSweeper } from './start.js';
export type { SweepLogger, SweepOnceOptions, SweepResult } from './sweep.js';
export { sweepOnce } from './sweep.js';

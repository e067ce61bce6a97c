import { defineConfig } from 'vitest/config';
import { summaryReporter } from './scripts/summary-reporter.js';

export default defineConfig({
  test: {
    reporters: ['default', summaryReporter],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          exclude: ['**/*.soak.test.ts', '**/node_modules/**'],
          pool: 'forks',
          // Most files wait on servers, sockets and timers rather than the CPU: on 2 cores vitest's
          // default (cores − 1 = one file at a time) left the machine half idle.
          maxWorkers: 3,
          testTimeout: 60_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'soak',
          include: ['packages/*/test/**/*.soak.test.ts'],
          pool: 'forks',
          testTimeout: 600_000,
        },
      },
    ],
  },
});

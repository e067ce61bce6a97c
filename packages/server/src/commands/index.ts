/**
 * Every command of the `slack-rotator` CLI, in the order `--help` lists them. A new command is one
 * file in this folder and one line here.
 */
import { apiKeysCommand } from './api-keys.js';
import type { CommandModule } from './context.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { encryptionCommand } from './encryption.js';
import { exchangeCommand } from './exchange.js';
import { importCommand } from './import.js';
import { migrateCommand } from './migrate.js';
import { refreshCommand } from './refresh.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import { sweepCommand } from './sweep.js';

export const COMMANDS: readonly CommandModule[] = [
  serveCommand,
  statusCommand,
  refreshCommand,
  sweepCommand,
  importCommand,
  exchangeCommand,
  encryptionCommand,
  apiKeysCommand,
  migrateCommand,
  doctorCommand,
  demoCommand,
];

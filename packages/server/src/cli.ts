#!/usr/bin/env node
/**
 * The `slack-rotator` command. Everything is in `commands/`; this file only binds the program to
 * this process.
 */
import { run } from './commands/program.js';

process.exitCode = await run(process.argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});

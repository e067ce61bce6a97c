/**
 * Test helpers for the CLI: runs `node packages/server/dist/cli.js …` as a real process against a
 * fake Slack and a temporary SQLite file, and seeds that file with the library in the test process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createKeyRing, createRotator, type Rotator, type TokenStore } from 'slack-rotator';
import { createSqliteStore } from 'slack-rotator/sqlite';
import { createFakeSlack, type FakeSlack, type InstallResponse } from 'slack-rotator/testing';

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

/** What a finished CLI process left. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; asynchronous, so the fake Slack in this process keeps answering. */
export function runCli(
  args: readonly string[],
  options: { env: Record<string, string>; stdin?: string; cwd?: string },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      cwd: options.cwd ?? process.cwd(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** A fake Slack, a temporary folder with a SQLite file, and the environment pointing the CLI at both. */
export interface CliFixture {
  slack: FakeSlack;
  dir: string;
  dbPath: string;
  env: Record<string, string>;
  run(
    args: readonly string[],
    options?: { env?: Record<string, string>; stdin?: string },
  ): Promise<CliResult>;
  /**
   * Installs workspaces at the fake Slack and saves them into the SQLite file with the library, as
   * the server would (optionally encrypted with `keys`, the first primary).
   */
  seed(
    teamIds: readonly string[],
    options?: { keys?: [string, string][]; withUserToken?: boolean },
  ): Promise<InstallResponse[]>;
  close(): Promise<void>;
}

export async function cliFixture(options: { expiresInSeconds?: number } = {}): Promise<CliFixture> {
  const slack = await createFakeSlack({
    clientId: '111.222',
    clientSecret: 'right-secret',
    appId: 'A0FAKEAPP',
    ...(options.expiresInSeconds === undefined ? {} : { expiresInSeconds: options.expiresInSeconds }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'slack-rotator-cli-'));
  const dbPath = join(dir, 'tokens.db');
  const env = {
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    SLACK_CLIENT_ID: slack.clientId,
    SLACK_CLIENT_SECRET: slack.clientSecret,
    SLACK_APP_ID: slack.appId,
    SLACK_API_URL: slack.url,
    SLACK_ROTATOR_STORE: dbPath,
  };
  return {
    slack,
    dir,
    dbPath,
    env,
    run: (args, runOptions = {}) =>
      runCli(args, {
        env: { ...env, ...runOptions.env },
        cwd: dir,
        ...(runOptions.stdin === undefined ? {} : { stdin: runOptions.stdin }),
      }),
    async seed(teamIds, seedOptions = {}) {
      const database = new Database(dbPath);
      const store: TokenStore = createSqliteStore({ database });
      const keys = seedOptions.keys;
      const rotator: Rotator = createRotator({
        clientId: slack.clientId,
        clientSecret: slack.clientSecret,
        store,
        slackApiUrl: slack.url,
        ...(keys === undefined
          ? {}
          : {
              encryption: createKeyRing({
                primaryKeyId: keys[0]?.[0] as string,
                keys: Object.fromEntries(keys),
              }),
            }),
      });
      const answers: InstallResponse[] = [];
      try {
        for (const teamId of teamIds) {
          const answer = slack.install({
            teamId,
            ...(seedOptions.withUserToken ? { withUserToken: true, userId: 'U0INSTALLER' } : {}),
          });
          await rotator.saveInstallation(answer);
          answers.push(answer);
        }
        return answers;
      } finally {
        await rotator.close();
        await store.close();
        database.close();
      }
    },
    async close() {
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every token the fake Slack issued is absent from `text` (no xoxb/xoxp/xoxe material at all). */
export function containsToken(text: string): boolean {
  return /xox[a-z]-[A-Za-z0-9]|xoxe[.-][A-Za-z0-9]/.test(text);
}

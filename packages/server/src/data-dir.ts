/**
 * The user's data folder, where the embedded SQLite store lives by default, so that
 * `slack-rotator serve` works with nothing else installed.
 */
import { homedir } from 'node:os';
import { join, posix, win32 } from 'node:path';

/** Where {@link dataDir} looks: the environment, the platform and the home folder (injectable for tests). */
export interface DataDirOptions {
  env: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
  home?: string;
}

/**
 * The `slack-rotator` data folder: `$XDG_DATA_HOME/slack-rotator` (else `~/.local/share/slack-rotator`)
 * on Linux and other Unixes, `~/Library/Application Support/slack-rotator` on macOS and
 * `%LOCALAPPDATA%\slack-rotator` on Windows. The folder is not created here.
 */
export function dataDir(options: DataDirOptions): string {
  const platform = options.platform ?? process.platform;
  const home = options.home ?? homedir();
  const { env } = options;
  if (platform === 'win32') {
    const base = nonEmpty(env.LOCALAPPDATA) ?? win32.join(home, 'AppData', 'Local');
    return win32.join(base, 'slack-rotator');
  }
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', 'slack-rotator');
  // XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = nonEmpty(env.XDG_DATA_HOME);
  const base = xdg?.startsWith('/') ? xdg : join(home, '.local', 'share');
  return posix.join(base, 'slack-rotator');
}

/** The default SQLite store file: `tokens.db` in {@link dataDir}. */
export function defaultSqlitePath(options: DataDirOptions): string {
  const dir = dataDir(options);
  return (options.platform ?? process.platform) === 'win32'
    ? win32.join(dir, 'tokens.db')
    : posix.join(dir, 'tokens.db');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

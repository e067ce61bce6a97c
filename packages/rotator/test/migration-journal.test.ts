import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { createFileJournal, fingerprintToken, type JournalEntry } from '../src/migrate/journal.js';

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const path = () => {
  dir = mkdtempSync(join(tmpdir(), 'slack-rotator-journal-'));
  return join(dir, 'migration.journal');
};

const entry = (op: JournalEntry['op'], token: string): JournalEntry => ({
  op,
  fingerprint: fingerprintToken(token),
  chainKey: 'A1:T1:bot',
  at: 1,
});

test('entries survive a reopen; a line torn by a crash is ignored and the next entry starts on its own line', async () => {
  const file = path();
  const journal = createFileJournal(file);
  expect(await journal.open()).toEqual([]);
  await journal.append(entry('exchanging', 'xoxb-1'));
  await journal.close();
  writeFileSync(file, `${readFileSync(file, 'utf8')}{"op":"done","fingerprint":"sha2`, { flag: 'w' });

  const again = createFileJournal(file);
  expect(await again.open()).toEqual([entry('exchanging', 'xoxb-1')]);
  await again.append(entry('done', 'xoxb-1'));
  await again.close();
  expect(await createFileJournal(file, { readOnly: true }).open()).toEqual([
    entry('exchanging', 'xoxb-1'),
    entry('done', 'xoxb-1'),
  ]);
  expect(readFileSync(file, 'utf8')).not.toContain('xoxb-1');
});

test('one writer at a time: a live holder is refused, a dead one is taken over, close releases', async () => {
  const file = path();
  const first = createFileJournal(file);
  await first.open();
  const second = createFileJournal(file);
  const refused = await second.open().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(refused).toMatchObject({ name: 'LockTimeoutError', code: 'lock_timeout' });
  await first.close();
  expect(existsSync(`${file}.lock`)).toBe(false);

  // A holder killed with SIGKILL leaves its lock file behind, naming a process that is gone.
  const gone = spawnSync(process.execPath, [
    '-e',
    'process.stdout.write(String(process.pid))',
  ]).stdout.toString();
  writeFileSync(`${file}.lock`, `${gone}\n${hostname()}\n`);
  const third = createFileJournal(file);
  await third.open();
  expect(readFileSync(`${file}.lock`, 'utf8')).toBe(`${process.pid}\n${hostname()}\n`);
  await third.close();
});

test('a read-only journal takes no lock and refuses to write', async () => {
  const file = path();
  const writer = createFileJournal(file);
  await writer.open();
  const reader = createFileJournal(file, { readOnly: true });
  expect(await reader.open()).toEqual([]);
  const error = await reader.append(entry('done', 'xoxb-1')).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ name: 'StorageError', code: 'store_failed' });
  await writer.close();
});

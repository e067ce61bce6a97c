/**
 * `encryption rotate`: re-encrypts every chain's token fields under the primary key (the first of
 * `SLACK_ROTATOR_ENCRYPTION_KEYS`), online, with the library's `reencrypt`.
 */
import { innerStoreOf, type KeyRing, reencrypt } from 'slack-rotator';
import { keyRingOf } from '../backends.js';
import { EXIT, ServerError } from '../errors.js';
import { createProgress } from '../progress.js';
import type { ServerConfig } from '../types.js';
import type { CommandModule } from './context.js';
import { interruptSignal, positiveIntegerOption } from './migration-report.js';
import { allRecords } from './records.js';

function keyRingFor(config: ServerConfig): KeyRing {
  if (config.encryption === undefined || config.encryption.keys.length === 0) {
    throw new ServerError(
      'invalid_request',
      'encryption rotate needs encryption keys: set SLACK_ROTATOR_ENCRYPTION_KEYS (or encryptionKeys) to new:<key>,old:<key>',
    );
  }
  return keyRingOf(config.encryption);
}

export const encryptionCommand: CommandModule = (program, context) => {
  const encryption = program
    .command('encryption')
    .description('Encryption at rest of the stored tokens.')
    .addHelpText('after', '\nExample:\n  $ slack-rotator encryption rotate');

  encryption
    .command('rotate')
    .description('Re-encrypt every chain under the primary (first) key, online; safe to run again.')
    .option('--batch <n>', 'chains read per page (1-1000)', '100')
    .addHelpText(
      'after',
      `
To roll a key: put the new key first and keep the old one (SLACK_ROTATOR_ENCRYPTION_KEYS=k2:…,k1:…)
on every instance, run this, and drop the old key once it reports failed 0. Exits 1 when any chain
failed.

Example:
  $ SLACK_ROTATOR_ENCRYPTION_KEYS=k2:$NEW_KEY,k1:$OLD_KEY slack-rotator encryption rotate --batch 500`,
    )
    .action(async (options: { batch?: string }) => {
      const batchSize = positiveIntegerOption(options.batch, '--batch', 100);
      if (batchSize > 1000) throw new ServerError('invalid_request', '--batch must be at most 1000');
      await context.withBackends({ requireApps: false }, async (backends, config) => {
        const keyRing = keyRingFor(config);
        const store = innerStoreOf(backends.store) ?? backends.store;
        let total = 0;
        for await (const _record of allRecords(store)) total += 1;
        const progress = createProgress({ label: 'chains', total, stream: context.io.stderr });
        const interrupt = interruptSignal();
        let result: Awaited<ReturnType<typeof reencrypt>>;
        try {
          result = await reencrypt(store, keyRing, {
            batchSize,
            signal: interrupt.signal,
            now: backends.now,
            ...(backends.lock === undefined ? {} : { lock: backends.lock }),
            onProgress: (p) => progress.update(p.scanned, Math.max(total, p.scanned)),
          });
        } finally {
          progress.stop();
          interrupt.release();
        }
        const { stdout } = context.io;
        for (const failure of result.failures) stdout.write(`failed ${failure.chainKey}: ${failure.code}\n`);
        stdout.write(
          `${result.scanned} chains: re-encrypted ${result.reencrypted}, already current ${result.alreadyCurrent}, failed ${result.failed}, deleted meanwhile ${result.deleted} (primary key ${keyRing.primaryKeyId})\n`,
        );
        if (result.failed > 0) context.setExitCode(EXIT.failed);
      });
    });
};

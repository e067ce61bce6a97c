import { invalidArgument, isRotatorError } from '../errors.js';
import { describeError } from '../events.js';
import { silentLogger } from '../logger.js';
import { type ChainItem, chainsOf, installAnswerOf } from './chains.js';
import { createExchanger, isStop, STOP, stop } from './exchange.js';
import { createFileJournal, type JournalEntry, type MigrationJournal } from './journal.js';
import type {
  MigrateOptions,
  MigrationFailure,
  MigrationInput,
  MigrationOutcome,
  MigrationReport,
} from './types.js';

function checkPositive(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidArgument(`${name} must be a positive number`);
  }
  return value;
}

function checkCount(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalidArgument(`${name} must be a non-negative integer`);
  }
  return value;
}

function checkOptions(options: MigrateOptions) {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('migrateInstallations needs an options object', 'ERR_INVALID_ARG_TYPE');
  }
  const { rotator, store, installations, journal } = options;
  if (
    typeof rotator !== 'object' ||
    rotator === null ||
    typeof rotator.exchangeLegacyToken !== 'function' ||
    typeof rotator.saveInstallation !== 'function' ||
    typeof rotator.clientId !== 'string'
  ) {
    throw invalidArgument('rotator must be a rotator from createRotator', 'ERR_INVALID_ARG_TYPE');
  }
  if (typeof store !== 'object' || store === null || typeof store.get !== 'function') {
    throw invalidArgument("store must be the rotator's token store", 'ERR_INVALID_ARG_TYPE');
  }
  const iterable =
    typeof installations === 'object' &&
    installations !== null &&
    (Symbol.iterator in installations || Symbol.asyncIterator in installations);
  if (!iterable) {
    throw invalidArgument('installations must be an array or an (async) iterable', 'ERR_INVALID_ARG_TYPE');
  }
  const isJournal = typeof journal === 'object' && journal !== null && typeof journal.append === 'function';
  if (!(typeof journal === 'string' && journal !== '') && !isJournal) {
    throw invalidArgument('journal must be a file path or a MigrationJournal', 'ERR_INVALID_ARG_TYPE');
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalidArgument('onProgress must be a function', 'ERR_INVALID_ARG_TYPE');
  }
  return {
    ratePerMinute: checkPositive(options.ratePerMinute, 'ratePerMinute', 50),
    rateLimitWaitMs: checkPositive(options.rateLimitWaitMs, 'rateLimitWaitMs', 60_000),
    rateLimitRetries: checkCount(options.rateLimitRetries, 'rateLimitRetries', 3),
    dryRun: options.dryRun === true,
    retryUncertain: options.retryUncertain === true,
    logger: options.logger ?? silentLogger,
  };
}

/**
 * Moves installations into slack-rotator: chains that already rotate are saved as they are; legacy
 * long-lived `xoxb-`/`xoxp-` tokens are exchanged for chains with `oauth.v2.exchange` and saved.
 *
 * Resumable and idempotent: a chain already in the store is left alone; before each exchange a line
 * naming a fingerprint of the token is written durably to the journal, and after the chain is saved
 * a second one. A run that finds an exchange started but no chain in the store never sends that
 * token again: Slack may have exchanged it, and the report says `exchanged_answer_lost` (install the
 * app again in that workspace; the legacy token keeps working until then). `retryUncertain` asks
 * Slack once more instead (`token_already_exchanged` confirms the loss).
 *
 * Before importing chains that already rotate, stop whatever refreshed them until now: two
 * refreshers on one chain kill it. For the same reason, never restore an old backup of a token store.
 *
 * @example
 * ```ts
 * const report = await migrateInstallations({
 *   rotator, store,
 *   installations: readFileInstallationStore({ baseDir: './.bolt-installations' }),
 *   journal: './migration.journal',
 *   onProgress: (p) => console.log(`${p.processed}/${p.total}`),
 * });
 * for (const f of report.failures) console.log(f.teamId ?? f.enterpriseId, f.code);
 * ```
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for invalid options.
 * @throws LockTimeoutError `lock_timeout` when another process holds the journal.
 * @throws StorageError `store_failed` when the journal cannot be read or written.
 */
export async function migrateInstallations(options: MigrateOptions): Promise<MigrationReport> {
  const settings = checkOptions(options);
  const { rotator, store, signal } = options;
  const { dryRun, logger } = settings;
  const report: MigrationReport = {
    dryRun,
    total: 0,
    imported: 0,
    exchanged: 0,
    alreadyMigrated: 0,
    duplicates: 0,
    failed: 0,
    notAttempted: 0,
    stoppedBy: null,
    failures: [],
  };
  const fail = (failure: MigrationFailure) => {
    report.failures.push(failure);
    report.failed += 1;
  };

  const items = await collect(options.installations, rotator.clientId, report, fail);
  report.total = items.length;
  const journal: MigrationJournal =
    typeof options.journal === 'string'
      ? createFileJournal(options.journal, { readOnly: dryRun })
      : options.journal;
  const states = new Map<string, JournalEntry>();
  let processed = 0;
  let failedBefore = 0;
  try {
    for (const entry of await journal.open()) states.set(entry.fingerprint, entry);
    const exchange = createExchanger({ ...settings, rotator, journal, states, signal, fail, readStore });
    for (const item of items) {
      if (signal?.aborted) throw stop('aborted');
      failedBefore = report.failed;
      const outcome = item.mode === 'rotating' ? await importChain(item) : await exchange(item);
      processed += 1;
      if (outcome === 'imported') report.imported += 1;
      else if (outcome === 'exchanged') report.exchanged += 1;
      else if (outcome === 'already_migrated') report.alreadyMigrated += 1;
      options.onProgress?.({
        total: items.length,
        processed,
        imported: report.imported,
        exchanged: report.exchanged,
        alreadyMigrated: report.alreadyMigrated,
        failed: report.failed,
        chain: item.ref,
        outcome,
      });
    }
  } catch (error) {
    if (!isStop(error)) throw error;
    report.stoppedBy = error[STOP];
    // The chain that stopped the run counts as failed when its failure was recorded.
    const current = processed < items.length && report.failed > failedBefore ? 1 : 0;
    report.notAttempted = items.length - processed - current;
  } finally {
    await journal.close();
  }
  logger.info(
    { ...report, failures: report.failures.length },
    dryRun ? 'slack-rotator migration dry run' : 'slack-rotator migration run',
  );
  return report;

  async function importChain(item: ChainItem): Promise<MigrationOutcome> {
    if ((await readStore(item)) !== undefined) return 'already_migrated';
    if (dryRun) return 'imported';
    const { answer, issuedAt } = installAnswerOf(item, Date.now());
    try {
      await rotator.saveInstallation(answer, {
        issuedAt,
        ...(item.botId === undefined ? {} : { botId: item.botId }),
      });
      return 'imported';
    } catch (error) {
      if (error instanceof TypeError) {
        fail({ ...item.ref, code: 'invalid_installation', retryable: false, message: error.message });
        return 'failed';
      }
      throw storeStop(item, error);
    }
  }

  async function readStore(item: ChainItem) {
    try {
      return await store.get(item.chainKey);
    } catch (error) {
      throw storeStop(item, error);
    }
  }

  function storeStop(item: ChainItem, error: unknown): unknown {
    if (!isRotatorError(error) || error.name !== 'StorageError') return error;
    logger.error(
      { chainKey: item.chainKey, err: describeError(error) },
      'slack-rotator migration: store failed',
    );
    fail({
      ...item.ref,
      code: 'store_failed',
      retryable: true,
      message: 'the token store failed; the run stopped',
    });
    return stop('store_failed');
  }
}

async function collect(
  installations: MigrateOptions['installations'],
  clientId: string,
  report: MigrationReport,
  fail: (failure: MigrationFailure) => void,
): Promise<ChainItem[]> {
  const byKey = new Map<string, ChainItem>();
  for await (const input of installations as AsyncIterable<MigrationInput>) {
    if (typeof input !== 'object' || input === null || 'unreadable' in input) {
      const source = typeof input === 'object' && input !== null ? input : undefined;
      fail({
        teamId: null,
        enterpriseId: null,
        isEnterpriseInstall: false,
        chain: null,
        code: 'unreadable_installation',
        retryable: false,
        message: source === undefined ? 'not an object' : `${source.source}: ${source.reason}`,
      });
      continue;
    }
    const { items, failures } = chainsOf(input, clientId);
    for (const failure of failures) fail(failure);
    for (const item of items) {
      if (byKey.has(item.chainKey)) report.duplicates += 1;
      else byKey.set(item.chainKey, item);
    }
  }
  return [...byKey.values()];
}

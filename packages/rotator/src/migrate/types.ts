import type { ChainSelector } from '../chain.js';
import type { Logger } from '../logger.js';
import type { Rotator } from '../rotator.js';
import type { TokenStore } from '../store/types.js';
import type { MigrationJournal } from './journal.js';

/**
 * An installation as `@slack/oauth` 4 stores it (its `Installation` type fits): `team` (absent for
 * org-wide installs), `enterprise`, `isEnterpriseInstall`, `appId`, and a `bot` and/or `user` token.
 * `expiresAt` is in epoch seconds, as `@slack/oauth` writes it (a value above 10^12 is taken as ms).
 * A token with a `refreshToken` already rotates; a `xoxb-`/`xoxp-` token without one is a legacy
 * long-lived token, to be exchanged with `oauth.v2.exchange`.
 */
export interface InstallationLike {
  team?: { id: string; name?: string | undefined } | null | undefined;
  enterprise?: { id: string; name?: string | undefined } | null | undefined;
  isEnterpriseInstall?: boolean | undefined;
  appId?: string | undefined;
  bot?:
    | {
        token?: string | undefined;
        refreshToken?: string | undefined;
        expiresAt?: number | undefined;
        scopes?: string[] | undefined;
        /** The bot id (`B…`). */
        id?: string | undefined;
        /** The bot's user id (`U…`). */
        userId?: string | undefined;
      }
    | undefined;
  user?:
    | {
        id: string;
        token?: string | undefined;
        refreshToken?: string | undefined;
        expiresAt?: number | undefined;
        scopes?: string[] | undefined;
      }
    | undefined;
}

/** A source entry that could not be read (a corrupt file, a failed `fetchInstallation`); reported. */
export interface UnreadableInstallation {
  unreadable: true;
  /** Where it came from: a file path, or the query's ids. Never a token. */
  source: string;
  reason: string;
}

/** What {@link migrateInstallations} reads: installations, and entries its sources could not read. */
export type MigrationInput = InstallationLike | UnreadableInstallation;

/** One chain of one installation, named by ids only. */
export interface MigrationChainRef {
  teamId: string | null;
  enterpriseId: string | null;
  isEnterpriseInstall: boolean;
  /** `null` when the installation could not be read at all. */
  chain: ChainSelector | null;
}

/**
 * Why a chain was not migrated: Slack's own error code when Slack refused the exchange
 * (`token_rotation_not_enabled`, `invalid_token`, `authorization_not_found`, `token_revoked`,
 * `token_already_exchanged`…), else one of ours:
 *
 * - `exchanged_answer_lost`: Slack may have exchanged the token (or did: `slackError` is then
 *   `token_already_exchanged`) but the answer never reached the store — a crash, a dropped
 *   connection, a timeout, a 5xx. The legacy token keeps working until the new chain's first refresh,
 *   which nobody can do: the workspace must install the app again to get a chain.
 * - `slack_unavailable`: Slack could not be reached; nothing was exchanged (a later run retries).
 * - `ratelimited`: Slack kept answering 429; nothing was exchanged (a later run retries).
 * - `store_failed`: the token store failed; the run stops.
 * - `unexpected_response`: Slack answered `ok: true` with an answer that cannot be stored.
 * - `unsupported_token`: neither a refresh token nor a legacy `xoxb-`/`xoxp-` token.
 * - `invalid_installation`, `unreadable_installation`: the source entry is malformed or unreadable.
 */
export type MigrationFailureCode =
  | 'exchanged_answer_lost'
  | 'slack_unavailable'
  | 'ratelimited'
  | 'store_failed'
  | 'unexpected_response'
  | 'unsupported_token'
  | 'invalid_installation'
  | 'unreadable_installation'
  | (string & {});

/** One chain that was not migrated. Never holds a token. */
export interface MigrationFailure extends MigrationChainRef {
  code: MigrationFailureCode;
  /** Slack's `error` string, when Slack answered one. */
  slackError?: string;
  /** True when a later run tries again (`exchanged_answer_lost` only with `retryUncertain`). */
  retryable: boolean;
  message: string;
}

/** What happened to one chain in this run. */
export type MigrationOutcome = 'imported' | 'exchanged' | 'already_migrated' | 'failed';

/** Passed to `onProgress` after each chain. */
export interface MigrationProgress {
  /** Chains found in the sources (after removing duplicates). */
  total: number;
  /** Chains handled so far in this run. */
  processed: number;
  imported: number;
  exchanged: number;
  alreadyMigrated: number;
  failed: number;
  /** The chain just handled, and what happened to it. */
  chain: MigrationChainRef;
  outcome: MigrationOutcome;
}

/** The result of {@link migrateInstallations}. With `dryRun`, counts say what a real run would do. */
export interface MigrationReport {
  dryRun: boolean;
  /** Chains found in the sources (after removing duplicates). */
  total: number;
  /** Chains that already rotated, saved into the store. */
  imported: number;
  /** Legacy tokens exchanged for chains and saved. */
  exchanged: number;
  /** Chains done in an earlier run, or already in the store (left as they are). */
  alreadyMigrated: number;
  /** Entries naming a chain seen earlier in the sources; the first one is used. */
  duplicates: number;
  failed: number;
  /** Chains not looked at because the run stopped early. */
  notAttempted: number;
  /** Why the run stopped early (a code of {@link MigrationFailureCode}, or `'aborted'`), else `null`. */
  stoppedBy: string | null;
  /** Every chain that was not migrated, with Slack's error code where Slack gave one. */
  failures: MigrationFailure[];
}

/** Options of {@link migrateInstallations}. */
export interface MigrateOptions {
  /** The rotator that will own the chains. */
  rotator: Pick<Rotator, 'clientId' | 'saveInstallation' | 'exchangeLegacyToken'>;
  /**
   * The rotator's token store (raw or encrypted: only whether a chain exists is read). A chain that
   * exists is never overwritten: it is counted `alreadyMigrated`.
   */
  store: Pick<TokenStore, 'get'>;
  /** The installations: an array, an iterable, or an async iterable (the readers of this module). */
  installations: Iterable<MigrationInput> | AsyncIterable<MigrationInput>;
  /**
   * Where exchanges are recorded before Slack is called: a file path (see `createFileJournal`) or
   * your own {@link MigrationJournal}. Keep it until every workspace is migrated; a run with the same
   * journal resumes.
   */
  journal: string | MigrationJournal;
  /** Exchanges per minute. Default 50 (Slack's Tier 3 for `oauth.v2.exchange`). */
  ratePerMinute?: number;
  /** Read and report only: no Slack call, no store or journal write. */
  dryRun?: boolean;
  /**
   * Ask Slack again about tokens whose exchange may have happened (`exchanged_answer_lost` without
   * confirmation): `token_already_exchanged` confirms the loss, `ok` saves the chain. Default false.
   */
  retryUncertain?: boolean;
  /** How long to wait after a 429 without `Retry-After` (ms). Default 60 000. */
  rateLimitWaitMs?: number;
  /** 429 answers tolerated per token before it is reported `ratelimited`. Default 3. */
  rateLimitRetries?: number;
  /** Called after each chain. Tokens never appear in it. */
  onProgress?: (progress: MigrationProgress) => void;
  /** Stops the run between two chains (`stoppedBy: 'aborted'`); nothing is left half done. */
  signal?: AbortSignal;
  /** Any pino-compatible logger; it never receives a token. */
  logger?: Logger;
}

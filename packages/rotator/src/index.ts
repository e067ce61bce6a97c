export type { ChainKeyInput, ChainKind, ChainSelector } from './chain.js';
export { configChainKeyOf } from './chain.js';
export type { EncryptionOptions } from './crypto/encrypted-store.js';
export { innerStoreOf, withEncryption } from './crypto/encrypted-store.js';
export type { KeyRing, KeyRingOptions } from './crypto/key-ring.js';
export { createKeyRing, generateKey } from './crypto/key-ring.js';
export type {
  ReencryptFailure,
  ReencryptFailureCode,
  ReencryptOptions,
  ReencryptProgress,
  ReencryptResult,
} from './crypto/reencrypt.js';
export { reencrypt } from './crypto/reencrypt.js';
export type { RotatorErrorCode, RotatorErrorDetails } from './errors.js';
export {
  ConfigurationError,
  ErrorCodes,
  isReauthorizationRequired,
  isRetryable,
  isRotatorError,
  LockTimeoutError,
  ReauthorizationRequiredError,
  RetryLaterError,
  RotatorError,
  StorageError,
} from './errors.js';
export type { ChainRef, Listener, RotatorEventName, RotatorEvents } from './events.js';
export type { CompleteInstallParams, InstallUrlOptions } from './install-flow.js';
export { createLocalLock } from './lock/local.js';
export type { AcquireOptions, Lease, Lock } from './lock/types.js';
export type { Logger } from './logger.js';
export { createRotator } from './manager.js';
export type { FileJournalOptions, JournalEntry, MigrationJournal } from './migrate/journal.js';
export { createFileJournal, fingerprintToken } from './migrate/journal.js';
export { migrateInstallations } from './migrate/migrate.js';
export type {
  FileInstallationStoreLocation,
  InstallationQueryLike,
  InstallationStoreLike,
} from './migrate/sources.js';
export { fetchInstallations, readFileInstallationStore, readInstallationsFile } from './migrate/sources.js';
export type {
  InstallationLike,
  MigrateOptions,
  MigrationChainRef,
  MigrationFailure,
  MigrationFailureCode,
  MigrationInput,
  MigrationOutcome,
  MigrationProgress,
  MigrationReport,
  UnreadableInstallation,
} from './migrate/types.js';
export type { RotatorOptions } from './options.js';
export type {
  ConfigTokenInput,
  GetTokenOptions,
  RefreshOptions,
  Rotator,
  SavedInstallation,
  SaveInstallationOptions,
  Sweeper,
  SweeperOptions,
  SweepOptions,
  SweepResult,
  TokenInfo,
} from './rotator.js';
export type { ClientAuthMethod } from './slack/transport.js';
export { createMemoryStore } from './store/memory.js';
export type {
  ChainStatus,
  CompareAndSetOptions,
  DeleteQuery,
  ListPage,
  ListQuery,
  NewTokenRecord,
  TokenRecord,
  TokenStore,
  TokenUpdate,
} from './store/types.js';

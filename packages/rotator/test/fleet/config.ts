/** Where a fleet's chains live, as every worker process opens it. */
export type FleetBackend =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; connectionString: string; schema: string }
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'postgres+redis'; connectionString: string; schema: string; url: string; prefix: string };

/** What one worker process is told (as JSON in FLEET_CONFIG). */
export interface WorkerConfig {
  backend: FleetBackend;
  slackUrl: string;
  clientId: string;
  clientSecret: string;
  teams: string[];
  lifetimeMs: number;
  /** Added to this worker's clock (ms): a skewed machine. */
  skewMs: number;
  lockTtlMs: number;
  requestTimeoutMs: number;
  /** Names this worker's connections (PostgreSQL application_name), so faults can target them. */
  name: string;
}

/** What a worker prints as its last line when asked to stop (SIGTERM). */
export interface WorkerSummary {
  name: string;
  ok: number;
  failures: Record<string, number>;
}

/** Codes a caller sees when a chain is lost to it. */
export const LOCKOUT_CODES = [
  'invalid_refresh_token',
  'reauthorization_required',
  'lost_rotation',
  'chain_revoked',
];

import { compareRecords, isAfter, type ListPlan, pageOf } from './list.js';
import { attempt, globEscape, type RedisClient, scanKeys, script } from './redis-client.js';
import {
  decodeRecord,
  EXPIRY_WIDTH,
  expiryMember,
  type StoredRecord,
  sortableNumber,
} from './redis-codec.js';
import { PEEK, PRE_INDEX, PURGE_STATE, SYNC_INDEX } from './redis-scripts.js';
import type { ListPage, TokenRecord } from './types.js';

const peek = script(PEEK);
const syncIndex = script(SYNC_INDEX);
const preIndex = script(PRE_INDEX);
const purgeState = script(PURGE_STATE);

/** What {@link RedisIndex.repair} found and did. */
export interface RepairReport {
  /** Chains (records) found by `SCAN`. */
  chains: number;
  /** Chains whose index entries were missing, out of date or left over, and were fixed. */
  repaired: number;
  /** Chains whose record is corrupt or from a newer release (left as they are). */
  invalid: string[];
}

/** A chain's state as the index applies it: a record, or its absence as of `rev`. */
type ChainState = StoredRecord | { chainKey: string; absentRev: number };

/** The expiry, status and installation indexes of one prefix, and the records' keys. */
export interface RedisIndex {
  /** The key of a chain's record hash: its hash tag is exactly the chain key. */
  recordKey(chainKey: string): string;
  /** The key of an installation's set of chain keys. */
  installationKey(installationId: string): string;
  /** Adds a chain to the key index and its installation's set before the record is written. */
  prepare(chainKey: string, installationId: string): Promise<void>;
  /** Applies a chain's state (after a write); late or out-of-order calls never undo a newer state. */
  apply(state: ChainState, seenIn?: string): Promise<boolean>;
  /** Reads a chain's record and applies it (or its absence). */
  repairChain(chainKey: string, seenIn?: string): Promise<boolean>;
  /** Rebuilds the index from the records (`SCAN`) and drops entries of chains that are gone. */
  repair(): Promise<RepairReport>;
  /** One page of a listing, every record re-checked against the query; stale entries are repaired. */
  list(plan: ListPlan, read: (chainKey: string) => Promise<StoredRecord | undefined>): Promise<ListPage>;
}

/** The largest number of index entries read in one round trip by `list`. */
const MAX_BATCH = 1000;

function matches(record: TokenRecord, plan: ListPlan): boolean {
  return (
    (plan.clientId === undefined || record.clientId === plan.clientId) &&
    (plan.installationId === undefined || record.installationId === plan.installationId) &&
    (plan.status === undefined || record.status === plan.status) &&
    (plan.expiresBefore === undefined || record.expiresAt < plan.expiresBefore) &&
    (plan.after === undefined || isAfter(record, plan.after, plan.byExpiry))
  );
}

/**
 * The index of the Redis store. Its keys share the hash tag `{<prefix>}` (one Cluster slot, apart
 * from the records), so it is updated after each write, by a second script, and may lag: a process
 * that dies between the two leaves it stale. Readers therefore re-check every record they return,
 * repair what they find stale, and {@link RedisIndex.repair} rebuilds it.
 */
export function createRedisIndex(client: RedisClient, prefix: string): RedisIndex {
  const base = `${prefix}:index:{${prefix}}:`;
  const stateKey = `${base}state`;
  const recordBase = `${prefix}:chain:{`;
  const recordKey = (chainKey: string) => `${recordBase}${chainKey}}`;
  const installationKey = (installationId: string) => `${base}i:${installationId}`;

  async function apply(state: ChainState, seenIn = ''): Promise<boolean> {
    const { chainKey } = 'record' in state ? state.record : state;
    const args =
      'record' in state
        ? [
            state.rev,
            JSON.stringify({
              r: String(state.rev),
              s: state.record.status,
              m: expiryMember(state.record.expiresAt, chainKey),
              i: state.record.installationId,
            }),
            state.record.status,
            expiryMember(state.record.expiresAt, chainKey),
            state.record.installationId,
          ]
        : [state.absentRev, '', '', '', ''];
    const applied = await attempt(
      'index update',
      () => syncIndex.run(client, [stateKey], [base, chainKey, ...args, seenIn]),
      chainKey,
    );
    return applied === 1;
  }

  async function repairChain(chainKey: string, seenIn = ''): Promise<boolean> {
    const reply = await attempt('index repair', () => peek.run(client, [recordKey(chainKey)], []), chainKey);
    if (!Array.isArray(reply)) return apply({ chainKey, absentRev: Number(reply) }, seenIn);
    const stored = decodeRecord(chainKey, reply);
    return apply(stored ?? { chainKey, absentRev: 0 }, seenIn);
  }

  async function listInstallation(
    plan: ListPlan & { installationId: string },
    read: (chainKey: string) => Promise<StoredRecord | undefined>,
  ): Promise<ListPage> {
    const members = await attempt('list', () => client.smembers(installationKey(plan.installationId)));
    const stored = await Promise.all(members.map(read));
    const found: TokenRecord[] = [];
    const stale: string[] = [];
    stored.forEach((entry, i) => {
      if (entry === undefined || entry.record.installationId !== plan.installationId) {
        stale.push(members[i] as string);
      } else if (matches(entry.record, plan)) found.push(entry.record);
    });
    await Promise.all(stale.map((chainKey) => repairChain(chainKey, plan.installationId)));
    return pageOf(
      found.sort((a, b) => compareRecords(a, b, plan.byExpiry)),
      plan,
    );
  }

  async function listRange(
    plan: ListPlan,
    read: (chainKey: string) => Promise<StoredRecord | undefined>,
  ): Promise<ListPage> {
    const zset = `${base}${plan.byExpiry ? 'e' : 'k'}${plan.status === undefined ? '' : `:${plan.status}`}`;
    const { after } = plan;
    let min =
      after === undefined
        ? '-'
        : `(${plan.byExpiry ? expiryMember(after.expiresAt ?? 0, after.chainKey) : after.chainKey}`;
    const max = plan.expiresBefore === undefined ? '+' : `(${sortableNumber(plan.expiresBefore)}`;
    const wanted = plan.limit + 1;
    const found: TokenRecord[] = [];
    let batch = Math.min(wanted, MAX_BATCH);
    for (;;) {
      const members = await attempt('list', () => client.zrangebylex(zset, min, max, 'LIMIT', 0, batch));
      const chainKeys = members.map((member) => (plan.byExpiry ? member.slice(EXPIRY_WIDTH) : member));
      const stored = await Promise.all(chainKeys.map(read));
      const stale: string[] = [];
      for (let i = 0; i < members.length && found.length < wanted; i += 1) {
        const entry = stored[i];
        const chainKey = chainKeys[i] as string;
        // An entry is stale when the record is gone or no longer sits where the entry says.
        if (
          entry === undefined ||
          (plan.byExpiry && expiryMember(entry.record.expiresAt, chainKey) !== members[i]) ||
          (plan.status !== undefined && entry.record.status !== plan.status)
        ) {
          stale.push(chainKey);
        } else if (matches(entry.record, plan)) found.push(entry.record);
      }
      // Repaired at once: an entry that moves ahead of this listing (a refresh moved the expiry
      // later) is then met in its place, in order, by the reads that follow.
      await Promise.all(stale.map((chainKey) => repairChain(chainKey)));
      if (found.length >= wanted || members.length === 0) break;
      if (members.length < batch && stale.length === 0) break;
      min = `(${members.at(-1)}`;
      batch = Math.min(batch * 2, MAX_BATCH);
    }
    return pageOf(found, plan);
  }

  return {
    recordKey,
    installationKey,
    apply,
    repairChain,

    async prepare(chainKey, installationId) {
      await attempt(
        'index update',
        () => preIndex.run(client, [`${base}k`, installationKey(installationId)], [chainKey]),
        chainKey,
      );
    },

    list(plan, read) {
      return plan.installationId === undefined
        ? listRange(plan, read)
        : listInstallation(plan as ListPlan & { installationId: string }, read);
    },

    async repair() {
      const seen = new Set<string>();
      const invalid: string[] = [];
      let repaired = 0;
      const fix = async (chainKey: string, action: () => Promise<boolean>) => {
        try {
          if (await action()) repaired += 1;
        } catch (error) {
          if ((error as { code?: unknown }).code !== 'record_invalid') throw error;
          invalid.push(chainKey);
        }
      };
      // Any command makes a Cluster client connect and learn its masters before the SCAN.
      await attempt('index repair', () => client.zrangebylex(`${base}k`, '-', '+', 'LIMIT', 0, 1));
      const pattern = `${globEscape(recordBase)}*`;
      const scanning = scanKeys(client, pattern);
      for (;;) {
        const next = await attempt('index repair', () => scanning.next());
        if (next.done === true) break;
        const chainKeys = next.value
          .filter((key) => key.endsWith('}'))
          .map((key) => key.slice(recordBase.length, -1))
          .filter((chainKey) => chainKey !== '' && !seen.has(chainKey));
        for (const chainKey of chainKeys) seen.add(chainKey);
        await Promise.all(chainKeys.map((chainKey) => fix(chainKey, () => repairChain(chainKey))));
      }
      // Chains the index holds but SCAN did not find: deleted, or written during the scan.
      let cursor = '0';
      do {
        const [next, items] = await attempt('index repair', () =>
          client.hscan(stateKey, cursor, 'COUNT', 500),
        );
        cursor = next;
        const work: Promise<void>[] = [];
        for (let i = 0; i + 1 < items.length; i += 2) {
          const chainKey = items[i] as string;
          const raw = items[i + 1] as string;
          if (seen.has(chainKey)) continue;
          if ((JSON.parse(raw) as { s?: string }).s === undefined) {
            // A deletion's leftover: it only orders late updates, and those are repaired on sight.
            work.push(
              attempt('index repair', () => purgeState.run(client, [stateKey], [chainKey, raw])).then(
                () => undefined,
              ),
            );
          } else work.push(fix(chainKey, () => repairChain(chainKey)));
        }
        await Promise.all(work);
      } while (cursor !== '0');
      return { chains: seen.size, repaired, invalid };
    },
  };
}

// Grants in force, as every replica sees them: one hot-state record per subject whose TTL is the
// time to its last expiry, and a per-replica cache that a publish invalidates and that is re-read
// at least every second. Each grant's `ends` is checked against the clock at read time, so a grant
// stops at its instant of expiry with no sweep and no clock agreement beyond the host clocks'.
import type { Clock } from "../../platform/clock.ts";
import { Unavailable } from "../../platform/errors.ts";
import type { HotState } from "../../platform/hotstate/index.ts";

/** Where a grant applies: one route, or every route of an environment. */
export interface JitScope {
  kind: "route" | "environment";
  id: string;
}

/** A grant in force, as the gateway uses it. */
export interface ActiveGrant {
  grantId: string;
  role: string;
  scope: JitScope;
  ends: Date;
}

interface StoredGrant {
  grantId: string;
  role: string;
  scope: JitScope;
  /** Epoch milliseconds. */
  ends: number;
}

const CHANNEL = "jit:grants";
const keyOf = (subject: string) => `jit:grants:${subject}`;

function parse(value: string | null): StoredGrant[] {
  if (value === null) return [];
  const list: unknown = JSON.parse(value);
  return Array.isArray(list) ? (list as StoredGrant[]) : [];
}

/**
 * Applies `change` to the subject's record (compare-and-set, so concurrent writers on other
 * servers are not lost), then tells every replica to drop its cached copy.
 */
async function updateGrants(
  hotState: HotState,
  clock: Clock,
  subject: string,
  change: (grants: StoredGrant[]) => StoredGrant[],
): Promise<void> {
  const key = keyOf(subject);
  for (let attempt = 0; ; attempt++) {
    if (attempt === 20) throw new Unavailable("hot state: the grant record kept changing under us");
    const current = await hotState.get(key);
    const now = clock.now().getTime();
    const next = change(parse(current).filter((g) => g.ends > now));
    const last = Math.max(0, ...next.map((g) => g.ends));
    const written =
      next.length === 0
        ? current === null || (await hotState.compareAndSet(key, current, null))
        : await hotState.compareAndSet(
            key,
            current,
            JSON.stringify(next),
            Math.max(1, Math.ceil(last - now)),
          );
    if (written) break;
  }
  await hotState.publish(CHANNEL, subject);
}

/** Adds a grant to its subject's record. */
export function publishGrant(
  hotState: HotState,
  clock: Clock,
  subject: string,
  grant: ActiveGrant,
): Promise<void> {
  const stored: StoredGrant = { ...grant, ends: grant.ends.getTime() };
  return updateGrants(hotState, clock, subject, (list) => [
    ...list.filter((g) => g.grantId !== grant.grantId),
    stored,
  ]);
}

/** Removes grants from their subject's record at once, on every replica. */
export function withdrawGrants(
  hotState: HotState,
  clock: Clock,
  subject: string,
  grantIds: readonly string[],
): Promise<void> {
  return updateGrants(hotState, clock, subject, (list) => list.filter((g) => !grantIds.includes(g.grantId)));
}

export interface GrantCache {
  /** The subject's grants in force at `now`: from the local cache, at most `maxAgeMs` old. */
  activeGrants(subject: string, now?: Date): Promise<ActiveGrant[]>;
  close(): Promise<void>;
}

export interface GrantCacheOptions {
  hotState: HotState;
  clock: Clock;
  /** How long a cached record is trusted without an invalidation; 1 s unless told. */
  maxAgeMs?: number;
  maxEntries?: number;
}

interface Entry {
  grants: ActiveGrant[];
  readAt: number;
}

/** The gateway's view of grants in force; subscribes to invalidations before it resolves. */
export async function createGrantCache(opts: GrantCacheOptions): Promise<GrantCache> {
  const { hotState, clock } = opts;
  const maxAgeMs = opts.maxAgeMs ?? 1000;
  const maxEntries = opts.maxEntries ?? 100_000;
  const cache = new Map<string, Entry>();
  // Bumped by every invalidation: a read that started before one must not refill the cache.
  let generation = 0;
  const unsubscribe = await hotState.subscribe(CHANNEL, (subject) => {
    generation++;
    cache.delete(subject);
  });

  async function load(subject: string): Promise<Entry> {
    const started = generation;
    const grants = parse(await hotState.get(keyOf(subject))).map((g) => ({
      grantId: g.grantId,
      role: g.role,
      scope: g.scope,
      ends: new Date(g.ends),
    }));
    const entry = { grants, readAt: clock.now().getTime() };
    if (started === generation) {
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(subject, entry);
    }
    return entry;
  }

  return {
    async activeGrants(subject, now = clock.now()) {
      let entry = cache.get(subject);
      if (!entry || clock.now().getTime() - entry.readAt >= maxAgeMs) entry = await load(subject);
      const t = now.getTime();
      return entry.grants.filter((g) => g.ends.getTime() > t);
    },
    async close() {
      await unsubscribe();
      cache.clear();
    },
  };
}

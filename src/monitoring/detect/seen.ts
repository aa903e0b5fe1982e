// What first_seen rules remember: the values (addresses, secrets) each group has used. Answers come
// from memory so the engine stays synchronous; the database is written behind, in batches, so a
// restart still knows yesterday's addresses. Values and group keys are kept only as SHA-256
// hashes: an address or a subject never sits in the table in clear.
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import type { Clock } from "../../platform/clock.ts";
import type { Logger } from "../../platform/logging.ts";
import type { Store } from "../../platform/store/index.ts";

export type SeenTables = {
  detect_seen: {
    rule: string;
    group_key: string;
    value_hash: string;
    first_seen: Date;
    last_seen: Date;
  };
};

export const detectMigrations: Record<string, Migration> = {
  "2026-11-23-21-detect-seen": {
    async up(db: Kysely<unknown>) {
      await sql`create table detect_seen (
          rule text not null,
          group_key text not null,
          value_hash text not null,
          first_seen timestamptz not null,
          last_seen timestamptz not null,
          primary key (rule, group_key, value_hash)
        )`.execute(db);
      await sql`create index detect_seen_last_seen on detect_seen (last_seen)`.execute(db);
    },
  },
};

/** Memory of first_seen rules; synchronous reads, so the engine never awaits. */
export interface SeenStore {
  /** Whether `value` was seen for the group at or after `notBefore` (ms since the epoch; default: ever). */
  has(rule: string, groupKey: string, value: string, notBefore?: number): boolean | undefined;
  /** How many values the group has, seen at or after `notBefore`. */
  knownCount(rule: string, groupKey: string, notBefore?: number): number;
  /** Records a use of `value` at `at` (ms since the epoch). */
  add(rule: string, groupKey: string, value: string, at: number): void;
  /** Reads the rows younger than `rememberMs` into memory (at start). */
  load(): Promise<void>;
  /** Writes what changed since the last flush. */
  flush(): Promise<void>;
  /** Stops the timer and flushes. */
  close(): Promise<void>;
  stats(): { groups: number; values: number; pending: number; evicted: number; flushErrors: number };
}

export interface SeenStoreOptions {
  store?: Store | undefined;
  clock: Clock;
  /** Values older than this are forgotten (the longest `remember` of the rules). */
  rememberMs: number;
  /** Values kept in memory across all groups; the least recently used groups go first. */
  maxValues?: number;
  flushIntervalMs?: number;
  logger?: Logger | undefined;
}

interface Entry {
  first: number;
  last: number;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const BATCH = 500;

/** A SeenStore in memory, written behind to `store` when given. */
export function createSeenStore(o: SeenStoreOptions): SeenStore {
  const maxValues = o.maxValues ?? 200_000;
  const db = o.store?.db.withTables<SeenTables>();
  // `rule \0 groupHash` → valueHash → times; Map order is least recently used first.
  const groups = new Map<string, Map<string, Entry>>();
  const dirty = new Map<string, { rule: string; group: string; value: string; entry: Entry }>();
  let values = 0;
  let evicted = 0;
  let flushErrors = 0;
  let lastPrune = 0;
  let flushing: Promise<void> | undefined;
  const timer = db ? setInterval(() => void flush(), o.flushIntervalMs ?? 1000) : undefined;
  timer?.unref();

  // The same keys and values come back all the time (a key's addresses, an identity's secrets):
  // their hashes are cached rather than computed per event.
  const hashes = new Map<string, string>();
  const hash = (s: string): string => {
    let h = hashes.get(s);
    if (h === undefined) {
      if (hashes.size >= 50_000) hashes.clear();
      hashes.set(s, (h = sha256(s)));
    }
    return h;
  };
  const groupOf = (rule: string, groupKey: string) => `${rule}\0${hash(groupKey)}`;

  function touch(key: string, g: Map<string, Entry>): void {
    groups.delete(key);
    groups.set(key, g);
  }

  function evict(): void {
    for (const [key, g] of groups) {
      if (values <= maxValues) break;
      groups.delete(key);
      values -= g.size;
      evicted += g.size;
    }
  }

  function put(rule: string, groupHash: string, valueHash: string, first: number, last: number): Entry {
    const key = `${rule}\0${groupHash}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = new Map()));
    else touch(key, g);
    let e = g.get(valueHash);
    if (!e) {
      g.set(valueHash, (e = { first, last }));
      values++;
      if (values > maxValues) evict();
    } else {
      e.first = Math.min(e.first, first);
      e.last = Math.max(e.last, last);
    }
    return e;
  }

  async function write(): Promise<void> {
    if (!db || dirty.size === 0) return;
    const rows = [...dirty.values()];
    dirty.clear();
    try {
      for (let i = 0; i < rows.length; i += BATCH) {
        await db
          .insertInto("detect_seen")
          .values(
            rows.slice(i, i + BATCH).map((r) => ({
              rule: r.rule,
              group_key: r.group,
              value_hash: r.value,
              first_seen: new Date(r.entry.first),
              last_seen: new Date(r.entry.last),
            })),
          )
          .onConflict((c) =>
            c.columns(["rule", "group_key", "value_hash"]).doUpdateSet({
              first_seen: sql`least(detect_seen.first_seen, excluded.first_seen)`,
              last_seen: sql`greatest(detect_seen.last_seen, excluded.last_seen)`,
            }),
          )
          .execute();
      }
      const now = o.clock.now().getTime();
      if (now - lastPrune > 3_600_000) {
        lastPrune = now;
        await db
          .deleteFrom("detect_seen")
          .where("last_seen", "<", new Date(now - o.rememberMs))
          .execute();
      }
    } catch (err) {
      // Kept for the next flush: a database away for a while loses nothing still in memory.
      for (const r of rows) {
        const k = `${r.rule}\0${r.group}\0${r.value}`;
        if (!dirty.has(k)) dirty.set(k, r);
      }
      flushErrors++;
      o.logger?.warn({ err: (err as Error).message }, "detect: first-seen values not written; will retry");
    }
  }

  function flush(): Promise<void> {
    // One writer at a time; a flush asked for meanwhile runs after it.
    const next = (flushing ?? Promise.resolve()).then(write);
    flushing = next.finally(() => {
      if (flushing === next) flushing = undefined;
    });
    return next;
  }

  return {
    has(rule, groupKey, value, notBefore = -Infinity) {
      const e = groups.get(groupOf(rule, groupKey))?.get(hash(value));
      return e !== undefined && e.last >= notBefore;
    },
    knownCount(rule, groupKey, notBefore = -Infinity) {
      const g = groups.get(groupOf(rule, groupKey));
      if (!g) return 0;
      let n = 0;
      for (const e of g.values()) if (e.last >= notBefore) n++;
      return n;
    },
    add(rule, groupKey, value, at) {
      const group = hash(groupKey);
      const v = hash(value);
      const entry = put(rule, group, v, at, at);
      if (db) dirty.set(`${rule}\0${group}\0${v}`, { rule, group, value: v, entry });
    },
    async load() {
      if (!db) return;
      const since = new Date(o.clock.now().getTime() - o.rememberMs);
      const rows = await db
        .selectFrom("detect_seen")
        .selectAll()
        .where("last_seen", ">=", since)
        .orderBy("last_seen", "asc")
        .execute();
      // Oldest first, so that when memory is short the most recent values are the ones kept.
      for (const r of rows)
        put(
          r.rule,
          r.group_key,
          r.value_hash,
          new Date(r.first_seen).getTime(),
          new Date(r.last_seen).getTime(),
        );
    },
    flush,
    async close() {
      if (timer) clearInterval(timer);
      await flush();
    },
    stats: () => ({ groups: groups.size, values, pending: dirty.size, evicted, flushErrors }),
  };
}

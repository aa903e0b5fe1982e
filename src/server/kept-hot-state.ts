// Hot state whose listed keys the control plane also keeps in PostgreSQL. The gateways' dynamic
// block and lockdown lists and the subject revocation list are one hot-state key each, written only
// through the server (API, playbooks, revocations); a Redis that restarts empty would lift every
// block and revive every revoked token at once. Each write of a kept key
// is copied to `hot_state_copies`, and `restore` puts a copy back when its key has gone missing.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import type { Clock } from "../platform/clock.ts";
import type { HotState } from "../platform/hotstate/index.ts";
import type { Store } from "../platform/store/index.ts";

type CopyTables = {
  hot_state_copies: { key: string; value: string; expires_at: Date | null; written_at: Date };
};

export const hotCopyMigrations: Record<string, Migration> = {
  "2026-11-28-02-hot-state-copies": {
    async up(db: Kysely<unknown>) {
      await sql`create table hot_state_copies (
          key text primary key,
          value text not null,
          expires_at timestamptz,
          written_at timestamptz not null
        )`.execute(db);
    },
  },
};

/** The kept keys, each announced on the channel of the same name when it changes. */
export const KEPT_KEYS = ["gateway:blocks", "gateway:lockdowns", "identity:revocations"] as const;

export interface KeptHotState {
  hot: HotState;
  /** Puts back every kept key that hot state lost; returns the keys put back. */
  restore(): Promise<string[]>;
}

export function keepHotStateCopies(inner: HotState, o: { store: Store; clock: Clock }): KeptHotState {
  const db = o.store.db.withTables<CopyTables>();
  const kept = new Set<string>(KEPT_KEYS);
  const save = async (key: string, value: string | null, ttlMs: number | undefined) => {
    const now = o.clock.now();
    if (value === null) {
      await db.deleteFrom("hot_state_copies").where("key", "=", key).execute();
      return;
    }
    const row = {
      key,
      value,
      expires_at: ttlMs === undefined ? null : new Date(now.getTime() + ttlMs),
      written_at: now,
    };
    // Two servers' copies may land out of order: the later write wins.
    await db
      .insertInto("hot_state_copies")
      .values(row)
      .onConflict((oc) =>
        oc
          .column("key")
          .doUpdateSet({ value: row.value, expires_at: row.expires_at, written_at: row.written_at })
          .where("hot_state_copies.written_at", "<=", row.written_at),
      )
      .execute();
  };
  const hot: HotState = {
    incr: (key, by, ttlMs) => inner.incr(key, by, ttlMs),
    gcra: (key, rate) => inner.gcra(key, rate),
    get: (key) => inner.get(key),
    ttl: (key) => inner.ttl(key),
    publish: (channel, message) => inner.publish(channel, message),
    subscribe: (channel, handler) => inner.subscribe(channel, handler),
    ping: () => inner.ping(),
    close: () => inner.close(),
    async compareAndSet(key, expected, next, ttlMs) {
      const ok = await inner.compareAndSet(key, expected, next, ttlMs);
      if (ok && kept.has(key)) await save(key, next, ttlMs);
      return ok;
    },
    async set(key, value, opts) {
      const ok = await inner.set(key, value, opts);
      if (ok && kept.has(key)) await save(key, value, opts?.ttlMs);
      return ok;
    },
    async del(key) {
      const existed = await inner.del(key);
      if (kept.has(key)) await save(key, null, undefined);
      return existed;
    },
  };
  return {
    hot,
    async restore() {
      const now = o.clock.now();
      const copies = await db.selectFrom("hot_state_copies").selectAll().execute();
      const back: string[] = [];
      for (const c of copies) {
        const left = c.expires_at === null ? undefined : new Date(c.expires_at).getTime() - now.getTime();
        if ((left !== undefined && left <= 0) || (await inner.get(c.key)) !== null) continue;
        if (await inner.compareAndSet(c.key, null, c.value, left)) {
          await inner.publish(c.key, "changed").catch(() => {});
          back.push(c.key);
        }
      }
      return back;
    },
  };
}

// RBAC bindings made through the API: kept in the RBAC registry for enforcement and in the store
// so they survive a restart. Bindings from rampart.yaml stay as code: the API lists them but
// cannot remove them, so the file remains the truth for what it declares.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import type { StoredBinding, Rbac } from "../identity/rbac/index.ts";
import type { Clock } from "../platform/clock.ts";
import { Conflict, NotFound } from "../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../platform/events/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { Store } from "../platform/store/index.ts";

export type BindingTables = {
  rbac_bindings: { id: string; binding: string; created_at: Date; created_by: string };
};

export const bindingMigrations: Record<string, Migration> = {
  "2026-11-23-02-rbac-bindings": {
    async up(db: Kysely<unknown>) {
      await sql`create table rbac_bindings (
          id text primary key,
          binding text not null,
          created_at timestamptz not null,
          created_by text not null
        )`.execute(db);
    },
  },
};

/** A binding as the API shows it: where it comes from decides whether the API may remove it. */
export type ListedBinding = StoredBinding & { source: "config" | "api" };

export interface RbacBindings {
  list(): ListedBinding[];
  /** Validates, enforces and stores a binding; Invalid or Conflict say why not. */
  add(raw: unknown, by: EventRef): Promise<StoredBinding>;
  /** Removes an API-made binding; Conflict for one from rampart.yaml, NotFound for none. */
  remove(id: string, by: EventRef): Promise<StoredBinding>;
  /** Puts the config's bindings and the stored ones in force (at start, and to pick up other servers' changes). */
  load(): Promise<void>;
}

/** Bindings of `rbac` (created from the config) plus the API's, persisted in `store`. */
export function createRbacBindings(o: {
  rbac: Rbac;
  store: Store;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  logger: Logger;
}): RbacBindings {
  const { rbac, clock } = o;
  const db = o.store.db.withTables<BindingTables>();
  const fromConfig = rbac.bindings();
  const configIds = new Set(fromConfig.map((b) => b.id));

  const audit = (type: string, by: EventRef, b: StoredBinding) =>
    o.emit(
      newEvent(
        {
          type,
          severity: "medium",
          retention: "audit",
          actor: by,
          target: { kind: "rbac_binding", id: b.id },
          data: { binding: b },
        },
        clock.now(),
      ),
    );

  return {
    list: () =>
      rbac
        .bindings()
        .map((b) => ({ ...b, source: configIds.has(b.id) ? ("config" as const) : ("api" as const) })),

    async add(raw, by) {
      const b = rbac.addBinding(raw);
      try {
        await db
          .insertInto("rbac_bindings")
          .values({ id: b.id, binding: JSON.stringify(b), created_at: clock.now(), created_by: by.id })
          .execute();
      } catch (err) {
        // Not stored means not in force: it would vanish at the next restart.
        rbac.removeBinding(b.id);
        throw err;
      }
      audit("rbac.binding_added", by, b);
      return b;
    },

    async remove(id, by) {
      if (configIds.has(id))
        throw new Conflict(`binding ${id} is defined in rampart.yaml (rbac.bindings); change it there`);
      const row = await db.deleteFrom("rbac_bindings").where("id", "=", id).returningAll().executeTakeFirst();
      if (!row) throw new NotFound(`no binding with the id ${id}`);
      const b = JSON.parse(row.binding) as StoredBinding;
      if (rbac.bindings().some((x) => x.id === id)) rbac.removeBinding(id);
      audit("rbac.binding_removed", by, b);
      return b;
    },

    async load() {
      const rows = await db.selectFrom("rbac_bindings").selectAll().orderBy("created_at").execute();
      const next: StoredBinding[] = [...fromConfig];
      for (const row of rows) {
        try {
          // Checked one by one: a stored binding whose role left the config must not stop the server.
          const probe = JSON.parse(row.binding) as unknown;
          rbac.replaceBindings([...next, probe]);
          next.push({ ...(probe as StoredBinding), id: row.id });
        } catch (err) {
          o.logger.warn({ binding: row.id, err: (err as Error).message }, "stored RBAC binding ignored");
        }
      }
      rbac.replaceBindings(next);
    },
  };
}

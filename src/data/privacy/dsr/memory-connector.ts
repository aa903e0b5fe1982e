// A test aid: a faithful in-memory Connector over arrays of rows, so the engine's planning,
// masking and resuming can be tested without the real stores (their connectors have their own
// tests). Rows keep insertion order; a row's id is its primary key values as JSON, as SQL
// connectors make them, or its position when the collection declares no primary key.
import canonicalize from "canonicalize";
import { type Collection, type CollectionAddress, collectionAddress } from "../map/model.ts";
import { valuesAt } from "./rows.ts";
import type { Connector, FoundRow, RowChange, StoreType } from "./types.ts";

export interface MemoryConnector extends Connector {
  /** Adds rows to a collection. */
  insert(collection: Collection, rows: readonly Record<string, unknown>[]): void;
  /** A deep copy of a collection's rows ("dataset.collection") as they are now. */
  rows(address: CollectionAddress): Record<string, unknown>[];
  /** Number of update and delete calls so far. */
  readonly writes: number;
}

const clone = <T>(v: T): T => structuredClone(v);

const primaryKey = (c: Collection) => c.fields.filter((f) => f.primaryKey).map((f) => f.name);

export function createMemoryConnector(type: StoreType = "postgres"): MemoryConnector {
  const tables = new Map<CollectionAddress, Map<string, Record<string, unknown>>>();
  let counter = 0;
  let writes = 0;
  const table = (address: CollectionAddress) => {
    let t = tables.get(address);
    if (!t) {
      t = new Map();
      tables.set(address, t);
    }
    return t;
  };
  const idFor = (pk: readonly string[], row: Record<string, unknown>) => {
    if (pk.length === 0) return `#${++counter}`;
    const key: Record<string, unknown> = {};
    for (const k of pk) key[k] = row[k];
    return canonicalize(key) ?? "{}";
  };
  return {
    type,
    get writes() {
      return writes;
    },
    insert(collection, rows) {
      const t = table(collectionAddress(collection));
      for (const r of rows) t.set(idFor(primaryKey(collection), r), clone(r));
    },
    rows: (address) => [...table(address).values()].map(clone),
    async find(collection, path, values) {
      const t = table(collectionAddress(collection));
      const wanted = new Set(values.map((v) => canonicalize(v)));
      const out: FoundRow[] = [];
      for (const [id, row] of t)
        if (valuesAt(row, path.split(".")).some((v) => wanted.has(canonicalize(v))))
          out.push({ id, values: clone(row) });
      return out;
    },
    async findBefore(collection, path, before, limit) {
      const t = table(collectionAddress(collection));
      const at = (row: Record<string, unknown>) => {
        const v = valuesAt(row, path.split("."))[0];
        return v instanceof Date
          ? v.getTime()
          : typeof v === "string" || typeof v === "number"
            ? new Date(v).getTime()
            : NaN;
      };
      return [...t]
        .filter(([, row]) => at(row) < before.getTime())
        .sort(([, x], [, y]) => at(x) - at(y))
        .slice(0, limit)
        .map(([id, row]) => ({ id, values: clone(row) }));
    },
    async delete(collection, rows) {
      writes++;
      const t = table(collectionAddress(collection));
      let n = 0;
      for (const r of rows) if (t.delete(r.id)) n++;
      return n;
    },
    async update(collection, changes: readonly RowChange[]) {
      writes++;
      const t = table(collectionAddress(collection));
      let n = 0;
      const pk = primaryKey(collection);
      for (const c of changes) {
        const row = t.get(c.row.id);
        if (!row) continue; // already rewritten under a new key, or gone
        const before = canonicalize(row);
        Object.assign(row, clone(c.set));
        if (canonicalize(row) !== before) n++;
        // As in SQL, a masked primary key moves the row: the old id no longer finds it.
        const id = pk.length > 0 ? idFor(pk, row) : c.row.id;
        if (id !== c.row.id) {
          // Re-keyed in place, so rows keep their order.
          const entries = [...t].map(([k, v]): [string, Record<string, unknown>] =>
            k === c.row.id ? [id, v] : [k, v],
          );
          t.clear();
          for (const [k, v] of entries) t.set(k, v);
        }
      }
      return n;
    },
    async check(collections) {
      return collections
        .map(collectionAddress)
        .filter((a) => !tables.has(a))
        .map((a) => `${a}: no such collection`);
    },
    async close() {},
  };
}

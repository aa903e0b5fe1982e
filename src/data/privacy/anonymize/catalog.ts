// What the copy needs to know about a relational database, read from its catalog: tables,
// columns with their types, primary keys and the foreign keys that say which columns must mask alike.

/** How a column's values are masked so that they still fit its type. */
export type ColumnKind =
  | "text"
  | "integer"
  | "numeric"
  | "float"
  | "boolean"
  | "date"
  | "timestamp"
  | "timestamptz"
  | "uuid"
  | "json"
  | "binary"
  | "inet"
  | "other";

export interface ColumnInfo {
  name: string;
  /** The type as the database names it (`character varying(254)`, `bigint(20) unsigned`), for messages. */
  type: string;
  kind: ColumnKind;
  nullable: boolean;
  /** Character or byte length limit, if any. */
  length?: number;
  /** Largest value an integer or numeric column holds (masked values wrap into [0, max]). */
  max?: number;
  /** Computed by the database: never written, recomputed from the masked inputs. */
  generated: boolean;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  primaryKey: string[];
}

export interface ForeignKey {
  name: string;
  table: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}

export interface Catalog {
  tables: Map<string, TableInfo>;
  foreignKeys: ForeignKey[];
}

/** Tables in an order where every referenced table comes before the tables referencing it (cycles broken). */
export function copyOrder(tables: readonly string[], fks: readonly ForeignKey[]): string[] {
  const wanted = new Set(tables);
  const deps = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const fk of fks)
    if (wanted.has(fk.table) && wanted.has(fk.refTable) && fk.table !== fk.refTable)
      deps.get(fk.table)?.add(fk.refTable);
  const out: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (t: string) => {
    if (state.get(t) === "done" || state.get(t) === "visiting") return; // a cycle: its constraints wait
    state.set(t, "visiting");
    for (const d of [...(deps.get(t) ?? [])].sort()) visit(d);
    state.set(t, "done");
    out.push(t);
  };
  for (const t of [...tables].sort()) visit(t);
  return out;
}

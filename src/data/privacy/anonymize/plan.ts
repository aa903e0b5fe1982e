// Which columns of which tables are masked, and how. Fields the data map tags with a personal
// category are masked; a column linked to another by a foreign key (or a data map reference)
// masks exactly as the column it refers to, so references still join after masking.
import { Invalid } from "../../../platform/errors.ts";
import { type Collection, type DataMap, type Dataset, type Field, isPersonalCategory } from "../map/model.ts";
import { defaultMasking, type MaskingStrategy } from "../masking.ts";
import type { Catalog, ColumnInfo, ColumnKind, TableInfo } from "./catalog.ts";

export const unmappedPolicies = ["fail", "copy", "skip"] as const;
/** What happens to tables and columns the data map does not mention: refuse (default), copy in clear, leave out. */
export type UnmappedPolicy = (typeof unmappedPolicies)[number];

export interface ColumnMask {
  strategy: MaskingStrategy;
  /** Output fitting shared by every column linked to this one (same length cut, same integer range). */
  length?: number;
  max?: number;
  /** Nested personal fields of a JSON column, masked inside the document. */
  nested?: Field[];
}

export interface ColumnPlan {
  column: ColumnInfo;
  mask?: ColumnMask;
  /** Why this column masks as it does: its own map entry or the column it references. */
  via?: string;
}

export interface TablePlan {
  table: TableInfo;
  /** Columns written to the target, in order (generated and skipped columns left out). */
  columns: ColumnPlan[];
}

export interface CopyPlan {
  tables: TablePlan[];
  /** Warnings that do not stop the copy (a mapped table missing from the database…). */
  warnings: string[];
}

/** The dataset of the map that describes a SQL database: the named one, or the only SQL one. */
export function sqlDataset(map: DataMap, key?: string): Dataset {
  if (key !== undefined) {
    const d = map.datasets.find((x) => x.key === key);
    if (!d)
      throw new Invalid(
        `no dataset '${key}' in the data map (have: ${map.datasets.map((x) => x.key).join(", ")})`,
        "dataset",
      );
    return d;
  }
  const sql = map.datasets.filter((d) => d.collections.every((c) => !c.store || c.store.kind === "sql"));
  if (sql.length === 1) return sql[0] as Dataset;
  throw new Invalid(
    sql.length === 0
      ? "the data map has no dataset of SQL tables"
      : `the data map has several SQL datasets (${sql.map((d) => d.key).join(", ")}); name one with --dataset`,
    "dataset",
  );
}

const tableOf = (c: Collection) => (c.store?.kind === "sql" ? c.store.table : c.name);

const personal = (f: Field): boolean =>
  f.categories.some(isPersonalCategory) || f.fields.some((n) => personal(n));

// Strategies whose output is a function of the input alone and unique enough to key on.
const keyable = new Set(["preserve", "hmac", "hash", "aes_encrypt"]);
// Strategies that produce text, which only text-like columns can hold.
const textual = new Set(["string_rewrite", "aes_encrypt"]);
const textLike = new Set<ColumnKind>(["text", "json"]);

export function planCopy(o: { catalog: Catalog; dataset: Dataset; unmapped: UnmappedPolicy }): CopyPlan {
  const { catalog, dataset } = o;
  const warnings: string[] = [];
  const byTable = new Map<string, Collection>();
  for (const c of dataset.collections) {
    const t = tableOf(c);
    if (!catalog.tables.has(t))
      warnings.push(`mapped table ${t} (collection ${dataset.key}.${c.name}) is not in the database`);
    else byTable.set(t, c);
  }

  // Deny by default: every table and column must be in the map unless told otherwise.
  const unmappedTables = [...catalog.tables.keys()].filter((t) => !byTable.has(t)).sort();
  const unmappedColumns: string[] = [];
  for (const [t, c] of byTable) {
    const names = new Set(c.fields.map((f) => f.name));
    for (const col of catalog.tables.get(t)?.columns ?? [])
      if (!names.has(col.name) && !col.generated) unmappedColumns.push(`${t}.${col.name}`);
    for (const f of c.fields)
      if (!catalog.tables.get(t)?.columns.some((col) => col.name === f.name))
        warnings.push(`mapped field ${dataset.key}.${c.name}.${f.name} is not a column of ${t}`);
  }
  if (o.unmapped === "fail" && unmappedTables.length + unmappedColumns.length > 0) {
    const parts = [
      ...(unmappedTables.length ? [`tables: ${unmappedTables.join(", ")}`] : []),
      ...(unmappedColumns.length ? [`columns: ${unmappedColumns.join(", ")}`] : []),
    ];
    throw new Invalid(
      `the data map does not describe ${parts.join("; ")}; map them, or pass --unmapped copy (in clear) or --unmapped skip`,
      "unmapped",
    );
  }

  // Each column's own masking, from its map entry.
  const masks = new Map<string, ColumnPlan>();
  const key = (t: string, c: string) => `${t}.${c}`;
  const included = [...catalog.tables.keys()].filter((t) => byTable.has(t) || o.unmapped === "copy");
  for (const t of included) {
    const info = catalog.tables.get(t) as TableInfo;
    const coll = byTable.get(t);
    for (const col of info.columns) {
      const f = coll?.fields.find((x) => x.name === col.name);
      if (coll && !f && o.unmapped === "skip") continue;
      const plan: ColumnPlan = { column: col };
      if (f && personal(f)) {
        plan.via = `${dataset.key}.${coll?.name}.${f.name}`;
        const strategy = f.masking ?? defaultMasking;
        if (strategy.strategy !== "preserve") {
          plan.mask = { strategy };
          const nested = f.fields.filter(personal);
          if (nested.length > 0 && !f.categories.some(isPersonalCategory)) plan.mask.nested = nested;
        }
      }
      masks.set(key(t, col.name), plan);
    }
  }

  // Links: foreign keys of the database and references of the map; the referenced column wins.
  const links: Array<{ from: string; to: string }> = [];
  for (const fk of catalog.foreignKeys)
    fk.columns.forEach((c, i) =>
      links.push({ from: key(fk.table, c), to: key(fk.refTable, fk.refColumns[i] as string) }),
    );
  for (const [t, c] of byTable)
    for (const f of c.fields)
      for (const r of f.references) {
        if (r.dataset !== dataset.key || r.field.includes(".")) continue;
        const refColl = dataset.collections.find((x) => x.name === r.collection);
        if (!refColl) continue;
        const [from, to] = [key(t, f.name), key(tableOf(refColl), r.field)];
        links.push(r.direction === "to" ? { from: to, to: from } : { from, to });
      }
  const live = links.filter((l) => masks.has(l.from) && masks.has(l.to) && l.from !== l.to);
  for (let changed = true, rounds = 0; changed && rounds < 100; rounds++) {
    changed = false;
    for (const l of live) {
      const child = masks.get(l.from) as ColumnPlan;
      const parent = masks.get(l.to) as ColumnPlan;
      if (JSON.stringify(child.mask?.strategy) === JSON.stringify(parent.mask?.strategy)) continue;
      if (parent.mask) child.mask = { strategy: parent.mask.strategy };
      else delete child.mask;
      child.via = `${l.to} (referenced)`;
      changed = true;
    }
  }

  const problems: string[] = [];
  for (const l of live) {
    const parent = masks.get(l.to) as ColumnPlan;
    if (parent.mask && !keyable.has(parent.mask.strategy.strategy))
      problems.push(
        `${l.to} is referenced by ${l.from}: ${parent.mask.strategy.strategy} would break the reference (use hmac)`,
      );
  }
  for (const [k, p] of masks) {
    const s = p.mask?.strategy.strategy;
    if (!s) continue;
    if (s === "null_rewrite" && !p.column.nullable)
      problems.push(`${k} is NOT NULL: null_rewrite cannot mask it`);
    if (textual.has(s) && !textLike.has(p.column.kind))
      problems.push(`${k} is ${p.column.type}: ${s} writes text; use hmac, null_rewrite or preserve`);
    if (p.column.kind === "other" && s !== "null_rewrite")
      problems.push(`${k} is ${p.column.type}, which masking cannot fit; use null_rewrite or preserve`);
    if (s === "aes_encrypt" && p.column.length !== undefined && p.column.length < 64)
      problems.push(`${k} holds ${p.column.length} characters: aes_encrypt tokens do not fit; use hmac`);
  }
  if (problems.length > 0) throw new Invalid(`cannot mask: ${[...new Set(problems)].join("; ")}`, "data map");

  // Linked masked columns share one fitting, so equal inputs give equal outputs on both sides.
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    const p = parent.get(k);
    if (p === undefined || p === k) return k;
    const r = find(p);
    parent.set(k, r);
    return r;
  };
  for (const l of live) if (masks.get(l.to)?.mask) parent.set(find(l.from), find(l.to));
  const fit = new Map<string, { length?: number; max?: number }>();
  for (const [k, p] of masks) {
    if (!p.mask) continue;
    const root = find(k);
    const f = fit.get(root) ?? {};
    if (p.column.length !== undefined) f.length = Math.min(f.length ?? Infinity, p.column.length);
    if (p.column.max !== undefined) f.max = Math.min(f.max ?? Infinity, p.column.max);
    fit.set(root, f);
  }
  for (const [k, p] of masks) if (p.mask) Object.assign(p.mask, fit.get(find(k)));

  const tables = included.map((t) => {
    const info = catalog.tables.get(t) as TableInfo;
    return {
      table: info,
      columns: info.columns
        .filter((c) => !c.generated && masks.has(key(t, c.name)))
        .map((c) => masks.get(key(t, c.name)) as ColumnPlan),
    };
  });
  return { tables, warnings };
}

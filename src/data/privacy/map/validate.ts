// Semantic checks of a whole data map (all files together): what the file format alone cannot
// see. Every problem is collected, located at file:line:column, and thrown as one ConfigError.
import { ConfigError, type ConfigIssue } from "../../../config/errors.ts";
import type { ConnectionConfig, StoreType } from "../dsr/types.ts";
import { parseIsoDuration } from "../duration.ts";
import { issueAt } from "./located.ts";
import {
  allFields,
  type Collection,
  collectionAddress,
  type DataMap,
  type Field,
  isPersonalCategory,
} from "./model.ts";
import { isKnownCategory } from "./taxonomy.ts";

export interface ValidateOptions {
  /**
   * Store type of each dataset, from the connections config. Collections of SQL datasets that
   * erasure touches must have a primary key (collections with `rampart.table` always count as SQL).
   */
  storeTypes?: Readonly<Record<string, StoreType>>;
}

/** Dataset → store type, from the connections config (privacy.connections). */
export function storeTypesFrom(
  connections: Readonly<Record<string, ConnectionConfig>>,
): Record<string, StoreType> {
  const out: Record<string, StoreType> = {};
  for (const c of Object.values(connections)) for (const d of c.datasets) out[d] = c.type;
  return out;
}

const scalarless = new Set(["object", "object[]"]);
const isSqlType = (t: StoreType | undefined) => t === "postgres" || t === "mysql";
const storeKindOf: Record<StoreType, string> = {
  postgres: "sql",
  mysql: "sql",
  redis: "redis",
  mongodb: "mongodb",
  elasticsearch: "elasticsearch",
};

/** Finds collections and fields by address. */
export interface MapIndex {
  collection(dataset: string, name: string): Collection | undefined;
  field(collection: Collection, path: string): Field | undefined;
  /** "dataset.collection.a.b" → its collection and field, or why it does not resolve. */
  resolve(address: string): { collection: Collection; field: Field } | { error: string };
}

export function indexDataMap(map: DataMap): MapIndex {
  const datasets = new Map(map.datasets.map((d) => [d.key, d]));
  const fieldsOf = new WeakMap<Collection, Map<string, Field>>();
  const collection = (dataset: string, name: string) =>
    datasets.get(dataset)?.collections.find((c) => c.name === name);
  const field = (c: Collection, path: string) => {
    let byPath = fieldsOf.get(c);
    if (!byPath) fieldsOf.set(c, (byPath = new Map(allFields(c.fields).map((f) => [f.path, f]))));
    return byPath.get(path);
  };
  return {
    collection,
    field,
    resolve(address) {
      const [d = "", c = "", ...rest] = address.split(".");
      if (!datasets.has(d)) return { error: `unknown dataset '${d}'` };
      const coll = collection(d, c);
      if (!coll) return { error: `dataset '${d}' has no collection '${c}'` };
      const f = field(coll, rest.join("."));
      if (!f) return { error: `collection '${d}.${c}' has no field '${rest.join(".")}'` };
      return { collection: coll, field: f };
    },
  };
}

/** Every semantic problem of `map`, in file order. */
export function dataMapProblems(map: DataMap, options: ValidateOptions = {}): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const index = indexDataMap(map);
  const add = (node: object, key: string, message: string) => issues.push(issueAt(node, key, message));

  const duplicates = <T extends object>(
    items: readonly T[],
    keyOf: (t: T) => string,
    what: string,
    within?: string,
  ) => {
    const seen = new Map<string, T>();
    for (const item of items) {
      const k = keyOf(item);
      const first = seen.get(k);
      if (first) {
        const at = issueAt(first, "", "");
        const scope = within ? ` in ${within}` : "";
        add(item, "", `duplicate ${what} '${k}'${scope} (first declared at ${at.file}:${at.line})`);
      } else seen.set(k, item);
    }
  };
  duplicates(map.datasets, (d) => d.key, "dataset");
  duplicates(map.systems, (s) => s.key, "system");
  duplicates(map.purposes, (p) => p.key, "purpose");
  duplicates(map.retention, (r) => r.key, "retention policy");

  const categories = (node: object, list: readonly string[], key: string) =>
    list.forEach((c, i) => {
      if (!isKnownCategory(c)) add(node, `${key}[${i}]`, `unknown data category '${c}'`);
    });

  const purposeKeys = new Set(map.purposes.map((p) => p.key));
  const datasetKeys = new Set(map.datasets.map((d) => d.key));

  for (const dataset of map.datasets) {
    duplicates(dataset.collections, (c) => c.name, "collection", `dataset '${dataset.key}'`);
    const storeType = options.storeTypes?.[dataset.key];
    for (const c of dataset.collections) checkCollection(c, storeType);
  }

  function checkCollection(c: Collection, storeType: StoreType | undefined) {
    const where = collectionAddress(c);
    const fieldLevel = (fields: readonly Field[], parent: string) => {
      duplicates(fields, (f) => f.name, "field", `'${parent}'`);
      for (const f of fields) if (f.fields.length > 0) fieldLevel(f.fields, `${where}.${f.path}`);
    };
    fieldLevel(c.fields, where);
    for (const f of allFields(c.fields)) {
      categories(f, f.categories, "data_categories");
      if (f.identity && (f.fields.length > 0 || scalarless.has(f.dataType ?? "")))
        add(
          f,
          "fides_meta.identity",
          `identity '${f.identity}' on '${f.path}', which holds an object, not a value`,
        );
      f.references.forEach((r) => {
        const target = index.resolve(`${r.dataset}.${r.collection}.${r.field}`);
        if ("error" in target) add(r, "field", `reference from '${where}.${f.path}': ${target.error}`);
      });
    }
    for (const [list, key] of [
      [c.after, "fides_meta.after"],
      [c.eraseAfter, "fides_meta.erase_after"],
    ] as const)
      list.forEach((address, i) => {
        const [d = "", name = ""] = address.split(".");
        if (!datasetKeys.has(d)) add(c, `${key}[${i}]`, `unknown dataset '${d}' in '${address}'`);
        else if (!index.collection(d, name))
          add(c, `${key}[${i}]`, `dataset '${d}' has no collection '${name}'`);
      });

    if (storeType && c.store && storeKindOf[storeType] !== c.store.kind)
      add(c, "rampart", `'${where}' is in a ${storeType} dataset but is mapped as ${c.store.kind}`);
    const sql = c.store?.kind === "sql" || isSqlType(storeType);
    const erasable =
      c.erasure === "delete" || allFields(c.fields).some((f) => f.categories.some(isPersonalCategory));
    if (sql && erasable && !c.fields.some((f) => f.primaryKey))
      add(
        c,
        "",
        `SQL collection '${where}' can be erased but has no primary key (set fides_meta.primary_key on its key column)`,
      );

    if (c.store?.kind === "redis") {
      const top = new Set(c.fields.map((f) => f.name));
      for (const m of c.store.key.matchAll(/\{([^}]*)\}/g))
        if (!top.has(m[1] ?? ""))
          add(
            c,
            "rampart.redis.key",
            `Redis key template '${c.store.key}' uses '{${m[1]}}', which is not a field of '${where}'`,
          );
    }
  }

  for (const [kind, edges] of [
    ["erase_after", (c: Collection) => c.eraseAfter],
    ["after", (c: Collection) => c.after],
  ] as const)
    for (const cycle of cycles(map, edges)) {
      const first = index.collection(...(cycle[0]?.split(".") as [string, string]));
      if (first) add(first, `fides_meta.${kind}`, `${kind} cycle: ${[...cycle, cycle[0]].join(" → ")}`);
    }

  for (const s of map.systems) {
    s.purposes.forEach((p, i) => {
      if (!purposeKeys.has(p)) add(s, `purposes[${i}]`, `system '${s.key}' names unknown purpose '${p}'`);
    });
    s.datasets.forEach((d, i) => {
      if (!datasetKeys.has(d)) add(s, `datasets[${i}]`, `system '${s.key}' names unknown dataset '${d}'`);
    });
  }
  for (const p of map.purposes) categories(p, p.categories, "data_categories");

  for (const r of map.retention) {
    categories(r, r.categories, "categories");
    r.purposes.forEach((p, i) => {
      if (!purposeKeys.has(p))
        add(r, `purposes[${i}]`, `retention policy '${r.key}' names unknown purpose '${p}'`);
    });
    if (!parseIsoDuration(r.period))
      add(r, "period", `'${r.period}' is not an ISO 8601 duration (e.g. P3Y, P90D, PT48H)`);
    if (r.notice !== undefined && !parseIsoDuration(r.notice))
      add(r, "notice", `'${r.notice}' is not an ISO 8601 duration (e.g. PT48H)`);
    const homes = new Set<string>();
    const fields: [string, string | undefined][] = [
      ["timestamp_field", r.timestampField],
      ["identity_field", r.identityField],
      ["notice_field", r.noticeField],
    ];
    for (const [key, address] of fields) {
      if (address === undefined) continue;
      const target = index.resolve(address);
      if ("error" in target) add(r, key, `retention policy '${r.key}': ${target.error}`);
      else homes.add(collectionAddress(target.collection));
    }
    if (homes.size > 1)
      add(
        r,
        "",
        `retention policy '${r.key}': timestamp, identity and notice fields must be in one collection; they are in ${[...homes].join(", ")}`,
      );
  }

  return issues.toSorted((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

/** Cycles of the collection ordering graph, each as the list of addresses it passes. */
function cycles(map: DataMap, edgesOf: (c: Collection) => readonly string[]): string[][] {
  const edges = new Map<string, readonly string[]>();
  for (const d of map.datasets) for (const c of d.collections) edges.set(collectionAddress(c), edgesOf(c));
  const state = new Map<string, "open" | "done">();
  const found: string[][] = [];
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!edges.has(next)) continue;
      const s = state.get(next);
      if (s === "open") found.push(stack.slice(stack.indexOf(next)));
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** Throws one ConfigError listing every problem of `map`; returns quietly when it is sound. */
export function validateDataMap(map: DataMap, options: ValidateOptions = {}): void {
  const issues = dataMapProblems(map, options);
  if (issues.length > 0) throw new ConfigError(issues);
}

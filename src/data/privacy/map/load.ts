// Reads data map files (Fides dataset YAML plus our systems, purposes and retention) into the
// model, then checks the whole map at once: every problem of every file in one ConfigError.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { ConfigError, type ConfigIssue } from "../../../config/errors.ts";
import { keyPath, type LocatedYaml, locatedIssues, readYaml } from "../../../config/yaml.ts";
import type { MaskingStrategy } from "../masking.ts";
import { type DataMapFile, dataMapFileSchema, type FidesCollection, type FidesField } from "./format.ts";
import { recordPosition } from "./located.ts";
import type {
  Collection,
  CollectionStore,
  DataMap,
  Dataset,
  Field,
  FieldReference,
  Purpose,
  RetentionPolicy,
  System,
} from "./model.ts";
import { type ValidateOptions, validateDataMap } from "./validate.ts";

type YamlPath = (string | number)[];

/** Remembers where `node` and the given sub-keys sit in the file. */
function locate(yaml: LocatedYaml, node: object, base: YamlPath, keys: YamlPath[] = []): void {
  const file = yaml.issueAt([], "").file;
  for (const rel of [[], ...keys]) {
    const { line, column } = yaml.issueAt([...base, ...rel], "");
    recordPosition(node, keyPath(rel), { file, line, column, path: keyPath([...base, ...rel]) });
  }
}

const indexed = (key: string, list: readonly unknown[] | null | undefined): YamlPath[] =>
  (list ?? []).map((_, i) => [key, i]);

function maskingOf(o: NonNullable<NonNullable<FidesField["fides_meta"]>["masking_strategy_override"]>) {
  const c = o.configuration ?? {};
  const configuration = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
  const strategy: MaskingStrategy = { strategy: o.strategy };
  if (Object.keys(configuration).length > 0) strategy.configuration = configuration;
  return strategy;
}

function fieldOf(yaml: LocatedYaml, f: FidesField, parentPath: string, base: YamlPath): Field {
  const file = yaml.issueAt([], "").file;
  const meta = f.fides_meta ?? {};
  const path = parentPath === "" ? f.name : `${parentPath}.${f.name}`;
  const references = (meta.references ?? []).map((r, i): FieldReference => {
    const dot = r.field.indexOf(".");
    const ref: FieldReference = {
      dataset: r.dataset,
      collection: r.field.slice(0, dot),
      field: r.field.slice(dot + 1),
    };
    if (r.direction) ref.direction = r.direction;
    locate(yaml, ref, [...base, "fides_meta", "references", i], [["field"], ["dataset"]]);
    return ref;
  });
  const field: Field = {
    name: f.name,
    path,
    categories: f.data_categories ?? [],
    primaryKey: meta.primary_key === true,
    references,
    fields: (f.fields ?? []).map((child, i) => fieldOf(yaml, child, path, [...base, "fields", i])),
    source: { file, line: yaml.lineOf(base) },
  };
  if (meta.identity) field.identity = meta.identity;
  if (meta.data_type) field.dataType = meta.data_type;
  if (meta.length) field.length = meta.length;
  if (meta.masking_strategy_override) field.masking = maskingOf(meta.masking_strategy_override);
  locate(yaml, field, base, [...indexed("data_categories", f.data_categories), ["fides_meta", "identity"]]);
  return field;
}

function storeOf(c: FidesCollection): CollectionStore | undefined {
  const r = c.rampart;
  if (r?.table) return { kind: "sql", table: r.table };
  if (r?.redis) return { kind: "redis", key: r.redis.key, type: r.redis.type };
  if (r?.mongodb) return { kind: "mongodb", collection: r.mongodb.collection };
  if (r?.elasticsearch) return { kind: "elasticsearch", index: r.elasticsearch.index };
  return undefined;
}

function collectionOf(yaml: LocatedYaml, dataset: string, c: FidesCollection, base: YamlPath): Collection {
  const file = yaml.issueAt([], "").file;
  const collection: Collection = {
    dataset,
    name: c.name,
    fields: c.fields.map((f, i) => fieldOf(yaml, f, "", [...base, "fields", i])),
    after: c.fides_meta?.after ?? [],
    eraseAfter: c.fides_meta?.erase_after ?? [],
    erasure: c.rampart?.erasure ?? "mask",
    source: { file, line: yaml.lineOf(base) },
  };
  const store = storeOf(c);
  if (store) collection.store = store;
  if (c.fides_meta?.skip_processing) collection.skipProcessing = true;
  locate(yaml, collection, base, [
    ...(c.fides_meta?.after ?? []).map((_, i) => ["fides_meta", "after", i]),
    ...(c.fides_meta?.erase_after ?? []).map((_, i) => ["fides_meta", "erase_after", i]),
    ["fides_meta", "after"],
    ["fides_meta", "erase_after"],
    ["rampart", "redis", "key"],
    ["rampart"],
  ]);
  return collection;
}

/** The model of one file's content, positions recorded; no cross-file checks yet. */
function modelOf(yaml: LocatedYaml, data: DataMapFile): DataMap {
  const file = yaml.issueAt([], "").file;
  const source = (base: YamlPath) => ({ file, line: yaml.lineOf(base) });
  const datasets = (data.dataset ?? []).map((d, i): Dataset => {
    const base = ["dataset", i];
    const dataset: Dataset = {
      key: d.fides_key,
      name: d.name ?? d.fides_key,
      collections: d.collections.map((c, j) =>
        collectionOf(yaml, d.fides_key, c, [...base, "collections", j]),
      ),
      source: source(base),
    };
    if (d.description) dataset.description = d.description;
    locate(yaml, dataset, base, [["fides_key"]]);
    return dataset;
  });
  const systems = (data.system ?? []).map((s, i): System => {
    const base = ["system", i];
    const system: System = {
      key: s.fides_key,
      name: s.name,
      purposes: s.purposes,
      datasets: s.datasets,
      processors: s.processors,
      regions: s.regions,
      source: source(base),
    };
    if (s.description) system.description = s.description;
    if (s.owner) system.owner = s.owner;
    locate(yaml, system, base, [
      ["fides_key"],
      ...indexed("purposes", s.purposes),
      ...indexed("datasets", s.datasets),
    ]);
    return system;
  });
  const purposes = (data.purpose ?? []).map((p, i): Purpose => {
    const base = ["purpose", i];
    const purpose: Purpose = {
      key: p.fides_key,
      name: p.name,
      legalBasis: p.legal_basis,
      categories: p.data_categories,
      subjects: p.data_subjects,
      requiresConsent: p.requires_consent ?? p.legal_basis === "consent",
      source: source(base),
    };
    if (p.description) purpose.description = p.description;
    locate(yaml, purpose, base, [["fides_key"], ...indexed("data_categories", p.data_categories)]);
    return purpose;
  });
  const retention = (data.retention ?? []).map((r, i): RetentionPolicy => {
    const base = ["retention", i];
    const policy: RetentionPolicy = {
      key: r.key,
      categories: r.categories,
      purposes: r.purposes,
      period: r.period,
      trigger: r.trigger,
      timestampField: r.timestamp_field,
      identityField: r.identity_field,
      action: r.action,
      legalHold: r.legal_hold,
      source: source(base),
    };
    if (r.description) policy.description = r.description;
    if (r.notice) policy.notice = r.notice;
    if (r.notice_field) policy.noticeField = r.notice_field;
    locate(yaml, policy, base, [
      ["key"],
      ["period"],
      ["notice"],
      ["timestamp_field"],
      ["identity_field"],
      ["notice_field"],
      ...indexed("categories", r.categories),
      ...indexed("purposes", r.purposes),
    ]);
    return policy;
  });
  return { systems, purposes, datasets, retention };
}

/** One file's map, or its located format problems. */
function readFile(text: string, file: string): { map?: DataMap; issues: ConfigIssue[] } {
  let yaml: LocatedYaml;
  try {
    yaml = readYaml(text, file);
  } catch (error) {
    if (error instanceof ConfigError) return { issues: [...error.issues] };
    throw error;
  }
  let raw: unknown;
  try {
    raw = yaml.data() ?? {};
  } catch (error) {
    if (error instanceof ConfigError) return { issues: [...error.issues] };
    throw error;
  }
  const parsed = dataMapFileSchema.safeParse(raw);
  if (!parsed.success) return { issues: locatedIssues(yaml, parsed.error) };
  return { map: modelOf(yaml, parsed.data), issues: [] };
}

const merge = (maps: readonly DataMap[]): DataMap => ({
  systems: maps.flatMap((m) => m.systems),
  purposes: maps.flatMap((m) => m.purposes),
  datasets: maps.flatMap((m) => m.datasets),
  retention: maps.flatMap((m) => m.retention),
});

/** Parses and checks a map given as texts (one per file); any problem throws one ConfigError. */
export function parseDataMapSources(
  sources: readonly { text: string; file: string }[],
  options: ValidateOptions = {},
): DataMap {
  const maps: DataMap[] = [];
  const issues: ConfigIssue[] = [];
  for (const s of sources) {
    const r = readFile(s.text, s.file);
    issues.push(...r.issues);
    if (r.map) maps.push(r.map);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const map = merge(maps);
  validateDataMap(map, options);
  return map;
}

/** Parses and checks one data map file's text. */
export const parseDataMap = (text: string, file: string, options: ValidateOptions = {}): DataMap =>
  parseDataMapSources([{ text, file }], options);

const isMapFile = (name: string) => [".yaml", ".yml"].includes(extname(name).toLowerCase());

/** The *.yaml / *.yml files under `path` (itself if a file), sorted, hidden ones skipped. */
export function dataMapFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new ConfigError([
      { file: path, line: 1, column: 1, path: "", message: "no such file or directory" },
    ]);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith("."))
    .toSorted((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const p = join(path, e.name);
      if (e.isDirectory()) return dataMapFiles(p);
      return e.isFile() && isMapFile(e.name) ? [p] : [];
    });
}

/** Loads and checks the data map from files and directories of *.yaml / *.yml. */
export function loadDataMap(paths: readonly string[], options: ValidateOptions = {}): DataMap {
  const files = paths.flatMap(dataMapFiles);
  if (files.length === 0)
    throw new ConfigError([
      {
        file: paths.join(", ") || ".",
        line: 1,
        column: 1,
        path: "",
        message: "no *.yaml or *.yml data map files found",
      },
    ]);
  return parseDataMapSources(
    files.map((file) => ({ file, text: readFileSync(file, "utf8") })),
    options,
  );
}

// The data map for people: a Markdown document (systems, purposes, datasets with a field table per
// collection, retention), a Mermaid flowchart of where personal data sits and flows, and JSON.
import { describeDuration, parseIsoDuration } from "../duration.ts";
import {
  allFields,
  type Collection,
  collectionAddress,
  categoryCovers,
  type DataMap,
  type Dataset,
  type Field,
  isPersonalCategory,
  type Purpose,
  type RetentionPolicy,
} from "./model.ts";

/** `|` and newlines would break a table row. */
export const cell = (text: string): string => text.replaceAll("|", "\\|").replace(/\s*\n\s*/g, " ");
const code = (text: string) => `\`${text}\``;
const list = (items: readonly string[], fmt: (s: string) => string = (s) => s) =>
  items.length === 0 ? "-" : items.map(fmt).join(", ");
const table = (head: readonly string[], rows: readonly (readonly string[])[]) => [
  `| ${head.join(" | ")} |`,
  `| ${head.map(() => "---").join(" | ")} |`,
  ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
];

export const durationWords = (iso: string): string => {
  const d = parseIsoDuration(iso);
  return d ? `${describeDuration(d)} (${iso})` : iso;
};

const storeText = (c: Collection): string => {
  switch (c.store?.kind) {
    case "sql":
      return `table ${code(c.store.table)}`;
    case "redis":
      return `Redis ${c.store.type} keys ${code(c.store.key)}`;
    case "mongodb":
      return `MongoDB collection ${code(c.store.collection)}`;
    case "elasticsearch":
      return `Elasticsearch index ${code(c.store.index)}`;
    default:
      return code(c.name);
  }
};

/** Purposes of the systems holding `dataset` that cover at least one of the collection's categories. */
export function purposesOf(map: DataMap, dataset: string, categories: readonly string[]): Purpose[] {
  const keys = new Set(map.systems.filter((s) => s.datasets.includes(dataset)).flatMap((s) => s.purposes));
  return map.purposes.filter(
    (p) => keys.has(p.key) && categories.some((c) => p.categories.some((w) => categoryCovers(w, c))),
  );
}

/** Retention policies that reach `collection`: by one of its categories or by their timestamp field. */
export function retentionOf(map: DataMap, collection: Collection): RetentionPolicy[] {
  const address = collectionAddress(collection);
  const categories = allFields(collection.fields).flatMap((f) => f.categories);
  return map.retention.filter(
    (r) =>
      r.timestampField.startsWith(`${address}.`) ||
      categories.some((c) => r.categories.some((w) => categoryCovers(w, c))),
  );
}

function fieldRow(f: Field): string[] {
  const refs = f.references.map(
    (r) =>
      `${r.direction === "to" ? "→" : r.direction === "from" ? "←" : "↔"} ${r.dataset}.${r.collection}.${r.field}`,
  );
  return [
    code(f.path),
    list(f.categories),
    f.identity ?? "",
    f.primaryKey ? "yes" : "",
    refs.join(", "),
    f.masking?.strategy ?? "",
  ];
}

function datasetSection(map: DataMap, d: Dataset): string[] {
  const holders = map.systems.filter((s) => s.datasets.includes(d.key)).map((s) => s.name);
  const out = [`### ${d.name} (${code(d.key)})`, ""];
  if (d.description) out.push(d.description, "");
  out.push(`Systems: ${list(holders)}`, "");
  for (const c of d.collections) {
    const fields = allFields(c.fields);
    const categories = [...new Set(fields.flatMap((f) => f.categories))];
    const personal = categories.some(isPersonalCategory);
    out.push(`#### ${code(collectionAddress(c))}`, "");
    out.push(
      `Stored as ${storeText(c)}; erasure ${personal || c.erasure === "delete" ? (c.erasure === "delete" ? "deletes the row" : "masks personal fields") : "has nothing to erase"}${c.skipProcessing ? "; skipped by requests" : ""}.`,
    );
    if (c.after.length > 0) out.push(`Processed after ${list(c.after, code)}.`);
    if (c.eraseAfter.length > 0) out.push(`Erased after ${list(c.eraseAfter, code)}.`);
    const purposes = purposesOf(map, d.key, categories);
    out.push(`Purposes: ${list(purposes.map((p) => `${p.name} (${p.legalBasis})`))}.`);
    const retention = retentionOf(map, c);
    out.push(
      `Retention: ${list(retention.map((r) => `${r.key}, ${durationWords(r.period)}${r.legalHold ? ", legal hold" : ""}`))}.`,
      "",
    );
    out.push(
      ...table(["field", "categories", "identity", "key", "references", "masking"], fields.map(fieldRow)),
      "",
    );
  }
  return out;
}

/** The whole map as a Markdown document. */
export function renderMarkdown(map: DataMap, title = "Data map"): string {
  const out = [`# ${title}`, ""];
  out.push("## Systems", "");
  out.push(
    ...table(
      ["system", "purposes", "datasets", "processors", "regions", "owner"],
      map.systems.map((s) => [
        `${s.name} (${code(s.key)})`,
        list(s.purposes),
        list(s.datasets),
        list(s.processors),
        list(s.regions),
        s.owner ?? "-",
      ]),
    ),
    "",
  );
  out.push("## Purposes", "");
  out.push(
    ...table(
      ["purpose", "legal basis", "data categories", "data subjects", "consent"],
      map.purposes.map((p) => [
        `${p.name} (${code(p.key)})`,
        p.legalBasis,
        list(p.categories),
        list(p.subjects),
        p.requiresConsent ? "required" : "no",
      ]),
    ),
    "",
  );
  out.push("## Datasets", "");
  for (const d of map.datasets) out.push(...datasetSection(map, d));
  out.push("## Retention", "");
  out.push(
    ...table(
      ["policy", "covers", "period", "from", "action", "notice", "legal hold"],
      map.retention.map((r) => [
        `${code(r.key)}${r.description ? ` ${r.description}` : ""}`,
        list([...r.categories, ...r.purposes]),
        durationWords(r.period),
        `${r.trigger} (${code(r.timestampField)})`,
        `${r.action} by ${code(r.identityField)}`,
        r.notice ? `${durationWords(r.notice)} to ${code(r.noticeField ?? "-")}` : "-",
        r.legalHold ? "yes" : "no",
      ]),
    ),
    "",
  );
  return out.join("\n");
}

/** A Mermaid flowchart: systems → datasets → collections, identity roots, reference edges. */
export function renderMermaid(map: DataMap): string {
  const ids = new Map<string, string>();
  const id = (kind: string, key: string) => {
    const k = `${kind}:${key}`;
    let v = ids.get(k);
    if (!v) ids.set(k, (v = `${kind}${ids.size}_${key.replace(/[^A-Za-z0-9]/g, "_")}`));
    return v;
  };
  const label = (text: string) => `"${text.replaceAll('"', "#quot;")}"`;
  const out = ["flowchart LR"];
  for (const s of map.systems) out.push(`  ${id("sys", s.key)}[${label(s.name)}]`);
  for (const d of map.datasets) {
    out.push(`  ${id("ds", d.key)}[(${label(d.name)})]`);
    for (const c of d.collections) {
      const personal = allFields(c.fields).some((f) => f.categories.some(isPersonalCategory));
      out.push(`  ${id("col", collectionAddress(c))}[${label(`${c.name}${personal ? " 🔒" : ""}`)}]`);
      out.push(`  ${id("ds", d.key)} --> ${id("col", collectionAddress(c))}`);
    }
  }
  for (const s of map.systems)
    for (const d of s.datasets)
      if (map.datasets.some((x) => x.key === d)) out.push(`  ${id("sys", s.key)} --> ${id("ds", d)}`);
  const identities = new Set<string>();
  for (const d of map.datasets)
    for (const c of d.collections)
      for (const f of allFields(c.fields)) {
        const here = id("col", collectionAddress(c));
        if (f.identity) {
          if (!identities.has(f.identity)) {
            identities.add(f.identity);
            out.push(`  ${id("idn", f.identity)}((${label(f.identity)}))`);
          }
          out.push(`  ${id("idn", f.identity)} -.->|${label(f.path)}| ${here}`);
        }
        for (const r of f.references) {
          const there = id("col", `${r.dataset}.${r.collection}`);
          // Arrows follow the order a request walks: "from" means the referenced side comes first.
          const edge =
            r.direction === "to"
              ? `${here} -->|${label(f.path)}| ${there}`
              : `${there} -->|${label(r.field)}| ${here}`;
          out.push(`  ${edge}`);
        }
      }
  out.push("  classDef identity fill:#fde68a,stroke:#b45309");
  if (identities.size > 0) out.push(`  class ${[...identities].map((i) => id("idn", i)).join(",")} identity`);
  return `${out.join("\n")}\n`;
}

/** The map as JSON (positions left out: they are about files, not data). */
export function renderJson(map: DataMap): string {
  return `${JSON.stringify(map, (key, value: unknown) => (key === "source" ? undefined : value), 2)}\n`;
}

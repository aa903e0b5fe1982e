import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, test } from "vitest";
import { ConfigError } from "../../../config/errors.ts";
import { loadDataMap, parseDataMap } from "./load.ts";
import { allFields, type Collection, type DataMap } from "./model.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const fides = resolve(repoRoot, "../shared/eval/privacy/fides");
const postgresExample = join(fides, "postgres_example_test_dataset.yml");
const mongoExample = join(fides, "mongo_example_test_dataset.yml");
const shopExample = join(repoRoot, "examples/privacy");

const collection = (m: DataMap, dataset: string, name: string): Collection => {
  const c = m.datasets.find((d) => d.key === dataset)?.collections.find((x) => x.name === name);
  if (!c) throw new Error(`no ${dataset}.${name}`);
  return c;
};
const field = (c: Collection, path: string) => {
  const f = allFields(c.fields).find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}`);
  return f;
};

/** The issues of the ConfigError `fn` throws. */
function issuesOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "rampart-map-"));
  dirs.push(d);
  return d;
};

describe("Fides datasets load unchanged", () => {
  const map = loadDataMap([postgresExample, mongoExample]);

  test("every dataset and collection is there", () => {
    expect(map.datasets.map((d) => [d.key, d.collections.length])).toEqual([
      ["postgres_example_test_dataset", 11],
      ["mongo_test", 9],
    ]);
    expect(map.datasets[0]?.name).toBe("Postgres Example Test Dataset");
  });

  test("identities, primary keys, types and references become the model", () => {
    const customer = collection(map, "postgres_example_test_dataset", "customer");
    expect(field(customer, "email")).toMatchObject({
      identity: "email",
      dataType: "string",
      categories: ["user.contact.email"],
      source: { file: postgresExample, line: 34 },
    });
    expect(field(customer, "id").primaryKey).toBe(true);
    expect(field(customer, "name").length).toBe(40);
    expect(field(customer, "address_id").references).toEqual([
      { dataset: "postgres_example_test_dataset", collection: "address", field: "id", direction: "to" },
    ]);
    // A reference into a nested field of another collection keeps its dotted path.
    const details = collection(map, "mongo_test", "customer_details");
    expect(field(details, "comments.comment_id").references).toEqual([
      { dataset: "mongo_test", collection: "conversations", field: "thread.comment", direction: "to" },
    ]);
    expect(field(details, "customer_id").references[0]).toMatchObject({
      dataset: "postgres_example_test_dataset",
      collection: "customer",
    });
  });

  test("nested fields get dotted paths; identities on arrays of values are allowed", () => {
    const profile = collection(map, "mongo_test", "internal_customer_profile");
    const phones = field(profile, "customer_identifiers.derived_phone");
    expect(phones).toMatchObject({ identity: "phone_number", dataType: "string[]", name: "derived_phone" });
    expect(field(profile, "customer_identifiers").fields.map((f) => f.name)).toEqual([
      "internal_id",
      "derived_emails",
      "derived_phone",
    ]);
  });

  test("masking overrides keep what we use and drop Fides options we do not", () => {
    const employee = collection(map, "postgres_example_test_dataset", "employee");
    expect(field(employee, "name").masking).toEqual({
      strategy: "string_rewrite",
      configuration: { rewrite_value: "testing" },
    });
  });

  test("collections default to masking erasure and no store override", () => {
    const orders = collection(map, "postgres_example_test_dataset", "orders");
    expect(orders.erasure).toBe("mask");
    expect(orders.store).toBeUndefined();
    expect(orders.after).toEqual([]);
  });

  test("a Fides dataset alone fails only where it points at a dataset not loaded", () => {
    const issues = issuesOf(() => loadDataMap([mongoExample]));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({
      file: mongoExample,
      line: 17,
      path: "dataset[0].collections[0].fields[1].fides_meta.references[0].field",
    });
    expect(issues[0]?.message).toContain("unknown dataset 'postgres_example_test_dataset'");
  });
});

describe("the shop example", () => {
  const map = loadDataMap([shopExample], {
    storeTypes: {
      shop: "postgres",
      shop_cache: "redis",
      activity: "mongodb",
      support_search: "elasticsearch",
    },
  });

  test("holds four stores, systems, purposes and retention", () => {
    expect(map.datasets.map((d) => d.key)).toEqual(["shop", "shop_cache", "activity", "support_search"]);
    expect(map.systems.map((s) => s.key)).toEqual(["storefront", "support_desk", "product_analytics"]);
    expect(collection(map, "shop_cache", "carts").store).toEqual({
      kind: "redis",
      key: "cart:{user_id}",
      type: "hash",
    });
    expect(collection(map, "activity", "events").store).toEqual({
      kind: "mongodb",
      collection: "activity_events",
    });
    expect(collection(map, "support_search", "tickets").store).toEqual({
      kind: "elasticsearch",
      index: "support-tickets",
    });
    expect(collection(map, "shop", "sessions").erasure).toBe("delete");
  });

  test("the DPDP policy: three years of inactivity, 48 hours' notice to the user's email", () => {
    expect(map.retention.find((r) => r.key === "dpdp-inactive-customers")).toMatchObject({
      period: "P3Y",
      trigger: "last_activity",
      timestampField: "shop.users.last_active_at",
      identityField: "shop.users.email",
      notice: "PT48H",
      noticeField: "shop.users.email",
      legalHold: false,
    });
    expect(map.purposes.find((p) => p.key === "marketing.email")).toMatchObject({
      legalBasis: "consent",
      requiresConsent: true,
    });
  });
});

describe("format errors", () => {
  test("an alias with no anchor, an alias bomb and a collection key are located issues", () => {
    const issues = (text: string) => {
      try {
        parseDataMap(text, "map.yaml");
      } catch (error) {
        if (error instanceof ConfigError)
          return error.issues.map((i) => `${i.line}:${i.column} ${i.message}`);
        throw error;
      }
      throw new Error("expected a ConfigError");
    };
    expect(issues("system: *a\n")).toEqual(["1:9 alias *a has no anchor &a before it"]);
    const bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let l = 1; l < 4; l++)
      bomb.push(
        `a${l}: &a${l} [${Array(10)
          .fill(`*a${l - 1}`)
          .join(", ")}]`,
      );
    expect(issues(`${bomb.join("\n")}\n`)).toEqual([
      "3:10 aliases expand more than 100 times (an alias bomb?)",
    ]);
    expect(issues("system:\n  - ? [a]\n    : b\n")).toEqual([
      "2:7 a key must be a plain value, not a list or map",
    ]);
  });
  test("typos in our own keys are errors, located", () => {
    const text = [
      "system:",
      "  - fides_key: web",
      "    name: Web",
      "    purpose: [x]",
      "retention:",
      "  - key: r",
      "    perod: P1Y",
      "    period: P1Y",
      "    timestamp_field: a.b.c",
      "    identity_field: a.b.d",
      "dataset:",
      "  - fides_key: a",
      "    collections:",
      "      - name: b",
      "        rampart: { erasre: delete }",
      "        fields: [{ name: c }, { name: d }]",
    ].join("\n");
    const issues = issuesOf(() => parseDataMap(text, "map.yaml"));
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [2, "system[0]"],
      [6, "retention[0]"],
      [15, "dataset[0].collections[0].rampart"],
    ]);
    expect(issues.map((i) => i.message).join("\n")).toMatch(/purpose[\s\S]*perod[\s\S]*erasre/);
  });

  test("keys Fides owns but we do not use are ignored", () => {
    const text = [
      "dataset:",
      "  - fides_key: a",
      "    organization_fides_key: default_organization",
      "    tags: [x]",
      "    collections:",
      "      - name: b",
      "        data_qualifier: aggregated",
      "        fields:",
      "          - name: c",
      "            retention: forever",
      "            fides_meta: { custom_request_field: x, data_type: string }",
      "data_use: []",
    ].join("\n");
    const map = parseDataMap(text, "fides.yaml");
    expect(map.datasets[0]?.collections[0]?.fields[0]).toMatchObject({ name: "c", dataType: "string" });
  });

  test("a second store block, a dotted name and an unknown top-level list are errors", () => {
    const text = [
      "dataset:",
      "  - fides_key: a.b",
      "    collections:",
      "      - name: c",
      "        rampart: { table: t, mongodb: { collection: m } }",
      "        fields: []",
      "retension: []",
    ].join("\n");
    const issues = issuesOf(() => parseDataMap(text, "x.yaml"));
    expect(issues.map((i) => `${i.line}:${i.path}`)).toEqual([
      "1:",
      "2:dataset[0].fides_key",
      "5:dataset[0].collections[0].rampart",
    ]);
    expect(issues[0]?.message).toContain("retension");
  });

  test("a rampart block anywhere but on a collection is an error, not silently dropped", () => {
    const text = [
      "dataset:",
      "  - fides_key: a",
      "    rampart: { erasure: delete }",
      "    collections:",
      "      - name: b",
      "        fields:",
      "          - name: c",
      "            rampart: { erasure: delete }",
    ].join("\n");
    const issues = issuesOf(() => parseDataMap(text, "x.yaml"));
    expect(issues.map((i) => `${i.line}:${i.path} ${i.message}`)).toEqual([
      "3:dataset[0].rampart the rampart block belongs on a collection",
      "8:dataset[0].collections[0].fields[0].rampart the rampart block belongs on a collection",
    ]);
  });

  test("Fides' skip_processing and ordering lists reach the model", () => {
    const text = [
      "dataset:",
      "  - fides_key: a",
      "    collections:",
      "      - name: b",
      "        fides_meta: { skip_processing: true, after: [a.c], erase_after: [a.c] }",
      "        fields: [{ name: id }]",
      "      - name: c",
      "        fields: [{ name: id }]",
    ].join("\n");
    const [b, c] = parseDataMap(text, "x.yaml").datasets[0]?.collections ?? [];
    expect(b).toMatchObject({ skipProcessing: true, after: ["a.c"], eraseAfter: ["a.c"] });
    expect(c?.skipProcessing).toBeUndefined();
  });

  test("YAML syntax errors carry their position", () => {
    const issues = issuesOf(() => parseDataMap("dataset:\n  - fides_key: [a\n", "broken.yaml"));
    expect(issues[0]).toMatchObject({ file: "broken.yaml" });
    expect(issues[0]?.line).toBeGreaterThanOrEqual(2);
  });
});

describe("files and directories", () => {
  test("a directory contributes its *.yaml and *.yml files, nested ones too, hidden ones not", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "more"));
    writeFileSync(
      join(dir, "a.yaml"),
      "dataset:\n  - fides_key: a\n    collections:\n      - name: t\n        fields: [{ name: id }]\n",
    );
    writeFileSync(
      join(dir, "more", "p.yml"),
      "purpose:\n  - fides_key: essential.service\n    name: Service\n    legal_basis: contract\n",
    );
    writeFileSync(join(dir, "notes.txt"), "not yaml: [");
    writeFileSync(join(dir, ".hidden.yaml"), "nonsense: [");
    const map = loadDataMap([dir]);
    expect(map.datasets.map((d) => d.key)).toEqual(["a"]);
    expect(map.purposes.map((p) => p.key)).toEqual(["essential.service"]);
  });

  test("problems of several files come together, each with its file", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.yaml"), "system:\n  - fides_key: s\n    nme: S\n");
    writeFileSync(join(dir, "b.yaml"), "purpose:\n  - fides_key: p\n    name: P\n    legal_basis: whim\n");
    const issues = issuesOf(() => loadDataMap([dir]));
    // a.yaml: the misspelt key and the missing `name` it was meant to be.
    expect(issues.map((i) => [i.file.slice(dir.length + 1), i.line])).toEqual([
      ["a.yaml", 2],
      ["a.yaml", 2],
      ["b.yaml", 4],
    ]);
    expect(issues.map((i) => i.message).join("\n")).toMatch(/nme[\s\S]*legal/);
  });

  test("a missing path or an empty directory is an error", () => {
    expect(issuesOf(() => loadDataMap([join(tempDir(), "nope")]))[0]?.message).toContain("no such file");
    expect(issuesOf(() => loadDataMap([tempDir()]))[0]?.message).toContain("no *.yaml");
  });
});

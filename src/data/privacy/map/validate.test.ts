import { describe, expect, test } from "vitest";
import { ConfigError, type ConfigIssue } from "../../../config/errors.ts";
import { parseDataMap, parseDataMapSources } from "./load.ts";
import type { DataMap } from "./model.ts";
import { dataCategories, isKnownCategory } from "./taxonomy.ts";
import { dataMapProblems, storeTypesFrom, type ValidateOptions, validateDataMap } from "./validate.ts";

function issuesOf(text: string, options: ValidateOptions = {}): ConfigIssue[] {
  try {
    parseDataMap(text, "map.yaml", options);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}
const brief = (issues: readonly ConfigIssue[]) => issues.map((i) => `${i.line}:${i.column} ${i.message}`);

// One file with one of every semantic mistake; line numbers matter to the assertions below.
const broken = `system:
  - fides_key: web
    name: Web
    purposes: [marketing.email, nope.purpose]
    datasets: [db, missing_ds]
purpose:
  - fides_key: marketing.email
    name: Mail
    legal_basis: consent
    data_categories: [user.contact.emial]
retention:
  - key: r1
    period: 3 years
    notice: PT48H
    timestamp_field: db.users.last_seen
    identity_field: db.users.email
  - key: r2
    period: P1Y
    notice: 2 days
    timestamp_field: db.users.email
    identity_field: db.orders.user_id
dataset:
  - fides_key: db
    collections:
      - name: users
        fides_meta:
          erase_after: [db.orders]
        rampart:
          table: users
        fields:
          - name: email
            data_categories: [user.contact.email]
          - name: profile
            fides_meta: { identity: email, data_type: object }
            fields:
              - name: nick
                data_categories: [user.name]
          - name: email
      - name: orders
        fides_meta:
          erase_after: [db.users, db.nothere]
        fields:
          - name: user_id
            fides_meta:
              references:
                - { dataset: db, field: users.idx, direction: from }
                - { dataset: other, field: users.id }
      - name: cart
        rampart:
          redis: { key: "cart:{user_id}:{session}" }
        fields:
          - name: user_id
`;

describe("semantic checks", () => {
  const issues = issuesOf(broken);
  const at = (line: number) => issues.filter((i) => i.line === line).map((i) => i.message);

  test("every problem is reported at once, in file order, as file:line:column", () => {
    expect(issues.length).toBe(15);
    expect(issues.every((i) => i.file === "map.yaml")).toBe(true);
    const lines = issues.map((i) => i.line);
    expect(lines).toEqual(lines.toSorted((a, b) => a - b));
  });

  test("systems must name known purposes and datasets", () => {
    expect(brief(issues.filter((i) => i.line <= 5))).toEqual([
      "4:33 system 'web' names unknown purpose 'nope.purpose'",
      "5:20 system 'web' names unknown dataset 'missing_ds'",
    ]);
  });

  test("data categories come from the taxonomy", () => {
    expect(at(10)).toEqual(["unknown data category 'user.contact.emial'"]);
  });

  test("retention: durations parse, fields exist and sit in one collection", () => {
    expect(at(13)).toEqual(["'3 years' is not an ISO 8601 duration (e.g. P3Y, P90D, PT48H)"]);
    expect(at(15)).toEqual(["retention policy 'r1': collection 'db.users' has no field 'last_seen'"]);
    expect(at(17)[0]).toContain("must be in one collection; they are in db.users, db.orders");
    expect(at(19)).toEqual(["'2 days' is not an ISO 8601 duration (e.g. PT48H)"]);
  });

  test("SQL collections that can be erased need a primary key", () => {
    expect(at(25)).toContain(
      "SQL collection 'db.users' can be erased but has no primary key (set fides_meta.primary_key on its key column)",
    );
  });

  test("erase_after cycles and unknown collections in it", () => {
    expect(at(27)).toEqual(["erase_after cycle: db.users → db.orders → db.users"]);
    expect(at(41)).toEqual(["dataset 'db' has no collection 'nothere'"]);
  });

  test("an identity must hold a value, not an object", () => {
    expect(at(34)).toEqual(["identity 'email' on 'profile', which holds an object, not a value"]);
  });

  test("duplicate field names at one level", () => {
    expect(at(38)[0]).toMatch(/^duplicate field 'email' in 'db.users' \(first declared at map.yaml:31\)$/);
  });

  test("references must reach an existing dataset, collection and field", () => {
    expect(at(46)).toEqual(["reference from 'db.orders.user_id': collection 'db.users' has no field 'idx'"]);
    expect(at(47)).toEqual(["reference from 'db.orders.user_id': unknown dataset 'other'"]);
  });

  test("Redis key templates use only the collection's fields", () => {
    expect(at(50)).toEqual([
      "Redis key template 'cart:{user_id}:{session}' uses '{session}', which is not a field of 'db.cart'",
    ]);
  });
});

describe("duplicates across files and store types", () => {
  test("a dataset declared in two files names the first", () => {
    const d = "dataset:\n  - fides_key: db\n    collections: []\n";
    let error: unknown;
    try {
      parseDataMapSources([
        { text: d, file: "a.yaml" },
        { text: d, file: "b.yaml" },
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      "b.yaml:2:5 dataset[0]: duplicate dataset 'db' (first declared at a.yaml:2)",
    );
  });

  const plain = `dataset:
  - fides_key: shop
    collections:
      - name: visits
        fields:
          - name: email
            data_categories: [user.contact.email]
            fides_meta: { identity: email }
      - name: events
        rampart: { mongodb: { collection: ev } }
        fields:
          - { name: at }
`;

  test("a collection without a key is fine until the dataset is known to be SQL", () => {
    expect(issuesOf(plain)).toEqual([]);
    expect(brief(issuesOf(plain, { storeTypes: { shop: "postgres" } }))).toEqual([
      "4:9 SQL collection 'shop.visits' can be erased but has no primary key (set fides_meta.primary_key on its key column)",
      "10:18 'shop.events' is in a postgres dataset but is mapped as mongodb",
    ]);
  });

  test("store types come from the connections config", () => {
    const types = storeTypesFrom({
      main: { type: "postgres", url: "postgres://db/shop", datasets: ["shop"] },
      cache: { type: "redis", url: "redis://cache", datasets: ["shop_cache", "rate"] },
    });
    expect(types).toEqual({ shop: "postgres", shop_cache: "redis", rate: "redis" });
    expect(issuesOf(plain, { storeTypes: types })).toHaveLength(2);
  });

  test("Fides' own Postgres example has keyless personal tables (visit): flagged only as SQL", () => {
    const map: DataMap = parseDataMap(plain, "m.yaml");
    expect(dataMapProblems(map, { storeTypes: { shop: "mysql" } })).toHaveLength(2);
    expect(() => validateDataMap(map)).not.toThrow();
  });
});

test("a map built in code is checked too, located by its source when it has one", () => {
  const map: DataMap = {
    systems: [{ key: "s", name: "S", purposes: ["p"], datasets: [], processors: [], regions: [] }],
    purposes: [],
    datasets: [],
    retention: [],
  };
  expect(() => validateDataMap(map)).toThrow(
    "<data map>:1:1 purposes[0]: system 's' names unknown purpose 'p'",
  );
});

describe("taxonomy", () => {
  test("holds fideslang's names the Fides examples use, each described", () => {
    for (const c of [
      "user.childrens",
      "user.sensor",
      "user.job_title",
      "user.financial.bank_account",
      "system.operations",
      "account.contact.email",
    ])
      expect(isKnownCategory(c), c).toBe(true);
    expect(isKnownCategory("user.contact.emial")).toBe(false);
    expect(isKnownCategory("toString")).toBe(false);
    for (const [key, description] of Object.entries(dataCategories)) {
      expect(description.length, key).toBeGreaterThan(5);
      // Every category's parent is a category too, so prefix matching has a root to stop at.
      if (key.includes(".")) expect(isKnownCategory(key.slice(0, key.lastIndexOf("."))), key).toBe(true);
    }
  });
});

import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { loadDataMap } from "./load.ts";
import { renderJson, renderMarkdown, renderMermaid } from "./render.ts";
import {
  buildRopa,
  countryOfRegion,
  isHomeRegion,
  renderRopaCsv,
  renderRopaJson,
  renderRopaMarkdown,
} from "./ropa.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const fides = resolve(repoRoot, "../shared/eval/privacy/fides");
const shop = loadDataMap([join(repoRoot, "examples/privacy")]);
const fidesMap = loadDataMap([
  join(fides, "postgres_example_test_dataset.yml"),
  join(fides, "mongo_example_test_dataset.yml"),
]);

describe("Markdown", () => {
  const md = renderMarkdown(shop, "Shop data map");

  test("has systems, purposes, datasets and retention sections", () => {
    expect(md.startsWith("# Shop data map\n")).toBe(true);
    for (const h of ["## Systems", "## Purposes", "## Datasets", "## Retention"])
      expect(md).toContain(`\n${h}\n`);
    expect(md).toContain(
      "| Storefront (`storefront`) | essential.service, essential.service.security, marketing.email, legal.tax_records | shop, shop_cache | stripe, sendgrid | ap-south-1 | commerce-team@example.com |",
    );
  });

  test("a field table per collection with categories, identity, key, references and masking", () => {
    const users = md.slice(md.indexOf("#### `shop.users`"), md.indexOf("#### `shop.addresses`"));
    expect(users).toContain("Stored as `users`; erasure masks personal fields.");
    expect(users).toContain("| `email` | user.contact.email | email |  |  |  |");
    expect(users).toContain("| `id` | user.unique_id |  | yes |  | preserve |");
    expect(users).toContain("Retention: dpdp-inactive-customers, 3 years (P3Y).");
    expect(users).toMatch(/Purposes: .*Send newsletters and offers by email \(consent\)/);
    expect(md).toContain("| `user_id` | system.operations |  |  | ← shop.users.id |  |");
    expect(md).toContain("Stored as Redis hash keys `cart:{user_id}`; erasure deletes the row.");
    expect(md).toContain("| `device.os` | user.device |");
  });

  test("retention table spells out periods and notice", () => {
    expect(md).toContain(
      "| `dpdp-inactive-customers` Customers inactive for three years are erased after a 48-hour notice. | user, essential.service, marketing.email, essential.service.support | 3 years (P3Y) | last_activity (`shop.users.last_active_at`) | mask by `shop.users.email` | 48 hours (PT48H) to `shop.users.email` | no |",
    );
  });

  test("renders Fides' examples too (no systems), pipes in text escaped", () => {
    const text = renderMarkdown(fidesMap);
    expect(text).toContain("#### `mongo_test.customer_details`");
    expect(text).toContain("| `workplace_info.position` | user.job_title |");
    expect(text).toContain("→ mongo_test.conversations.thread.comment");
  });
});

describe("Mermaid", () => {
  const chart = renderMermaid(shop);
  const lines = chart.trim().split("\n");

  test("a flowchart: systems → datasets → collections", () => {
    expect(lines[0]).toBe("flowchart LR");
    const idOf = (labelled: RegExp) => {
      const line = lines.find((l) => labelled.test(l));
      if (!line) throw new Error(`no node ${labelled}`);
      return line.trim().split(/[[(]/)[0] as string;
    };
    const storefront = idOf(/\["Storefront"\]/);
    const shopDs = idOf(/\[\("Shop database/);
    const users = idOf(/\["users 🔒"\]/);
    const items = idOf(/\["order_items"\]/);
    expect(lines).toContain(`  ${storefront} --> ${shopDs}`);
    expect(lines).toContain(`  ${shopDs} --> ${users}`);
    expect(lines).toContain(`  ${shopDs} --> ${items}`);
    // Identity roots point at the collections a request starts from.
    const email = idOf(/\(\("email"\)\)/);
    expect(lines).toContain(`  ${email} -.->|"email"| ${users}`);
    // A reference with direction "from": the referenced collection comes first.
    const orders = idOf(/\["orders 🔒"\]/);
    expect(lines).toContain(`  ${orders} -->|"id"| ${items}`);
    expect(lines.at(-1)).toMatch(/^ {2}class idn\d+_email,idn\d+_phone_number identity$/);
  });

  test("node ids are unique and safe for Mermaid", () => {
    const ids = lines.filter((l) => /^ {2}\w+[[(]/.test(l)).map((l) => l.trim().split(/[[(]/)[0] as string);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_]+$/);
  });
});

test("JSON round-trips the model without file positions", () => {
  const parsed = JSON.parse(renderJson(shop)) as typeof shop;
  expect(parsed.datasets.length).toBe(4);
  expect(JSON.stringify(parsed)).not.toContain('"source"');
  expect(parsed.retention[0]?.period).toBe("P3Y");
});

describe("records of processing (Art. 30)", () => {
  const records = buildRopa(shop, { controller: "Acme Retail Pvt Ltd" });

  test("one record per system and purpose, with what the system actually holds", () => {
    expect(records.map((r) => `${r.systemKey}/${r.purposeKey}`)).toEqual([
      "storefront/essential.service",
      "storefront/essential.service.security",
      "storefront/marketing.email",
      "storefront/legal.tax_records",
      "support_desk/essential.service.support",
      "product_analytics/analytics.reporting",
    ]);
    const marketing = records[2];
    expect(marketing).toMatchObject({
      controller: "Acme Retail Pvt Ltd",
      legalBasis: "consent",
      consentRequired: true,
      recipients: ["stripe", "sendgrid"],
      dataSubjects: ["customer"],
    });
    expect(marketing?.dataCategories).toEqual([
      "user.contact.email",
      "user.name.first",
      "user.name.last",
      "user.privacy_preferences",
    ]);
    expect(records[3]?.retention).toEqual([
      "invoices-8-years: 8 years (P8Y) after creation, then mask (legal hold)",
    ]);
  });

  test("transfers: regions outside the home jurisdictions", () => {
    expect(records.find((r) => r.systemKey === "product_analytics")?.transfers).toEqual([
      { region: "us-east-1", country: "US" },
    ]);
    expect(records.find((r) => r.systemKey === "support_desk")?.transfers).toEqual([]);
    const indiaOnly = buildRopa(shop, { controller: "Acme", homeRegions: ["IN"] });
    expect(indiaOnly.find((r) => r.systemKey === "support_desk")?.transfers).toEqual([
      { region: "eu-west-1", country: "IE" },
    ]);
  });

  test("regions resolve to countries; EU and EEA count as one home", () => {
    expect(countryOfRegion("ap-south-1")).toBe("IN");
    expect(countryOfRegion("europe-west3")).toBe("DE");
    expect(countryOfRegion("eastus2")).toBe("US");
    expect(countryOfRegion("de")).toBe("DE");
    expect(countryOfRegion("mars-north-1")).toBe("unknown");
    expect(isHomeRegion("eu-west-1", ["EU"])).toBe(true);
    expect(isHomeRegion("NO", ["EU"])).toBe(true);
    expect(isHomeRegion("eu-west-2", ["EU"])).toBe(false); // London: the UK left the EU
    expect(isHomeRegion("eu-central-2", ["EU", "IN"])).toBe(false); // Zurich
    expect(isHomeRegion("my-dc", ["my-dc"])).toBe(true);
    expect(isHomeRegion("mars-north-1", ["EU", "IN"])).toBe(false);
  });

  test("Markdown, CSV and JSON", () => {
    const md = renderRopaMarkdown(records, { controller: "Acme Retail Pvt Ltd" });
    expect(md).toContain("# Records of processing activities: Acme Retail Pvt Ltd");
    expect(md).toContain("| us-east-1 (US) |");
    expect(md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| ---"))).toHaveLength(7);

    const csv = renderRopaCsv(records);
    const rows = csv.trimEnd().split("\r\n");
    expect(rows).toHaveLength(7);
    expect(rows[0]).toBe(
      "Controller,System,Owner,Purpose,Legal basis,Data subjects,Data categories,Recipients,Regions,Transfers outside home,Retention",
    );
    expect(rows[2]).toContain(
      '"Keep accounts secure (sessions, fraud and abuse) (essential.service.security)"',
    );

    expect(JSON.parse(renderRopaJson(records))).toEqual(records);
  });

  test("CSV quotes quotes and defuses formulas", () => {
    const [record] = buildRopa(shop, { controller: '=HYPERLINK("http://x") "Acme"' });
    const csv = renderRopaCsv(record ? [record] : []);
    expect(csv.split("\r\n")[1]?.startsWith(`"'=HYPERLINK(""http://x"") ""Acme""",`)).toBe(true);
  });
});

// The access export's three forms: canonical JSON (stable bytes), a CSV that parses back to every
// value with its categories, and an HTML page that escapes what it shows and can run nothing.
import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { type AccessExport, categoryInWords, exportCsv, exportHtml, exportJson } from "./export.ts";

const sample = (): AccessExport => ({
  request: { id: "req-1", kind: "access", completedAt: "2026-11-26T09:00:00.000Z" },
  generatedAt: "2026-11-26T09:00:00.000Z",
  datasets: {
    shop: {
      customer: [
        {
          id: '{"id":1}',
          values: {
            id: 1,
            name: '<script>alert("x")</script>',
            email: "ana@example.com",
            note: 'says "hi", then\r\nleaves',
          },
        },
      ],
      orders: [],
    },
    docs: {
      details: [
        {
          id: "d-1",
          values: {
            contacts: [
              { name: "Rui", phone: "+351900000001" },
              { name: "Lia & Co", phone: null },
            ],
            children: ["Kai"],
            ok: true,
          },
        },
      ],
    },
  },
  categories: {
    "shop.customer.id": ["user.unique_id"],
    "shop.customer.name": ["user.name"],
    "shop.customer.email": ["user.contact.email"],
    "docs.details.contacts.name": ["user.name"],
    "docs.details.contacts.phone": ["user.contact.phone_number", "user.contact"],
    "docs.details.children": ["user.childrens"],
  },
});

/** RFC 4180 parser: enough to read back what exportCsv writes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) throw new Error("CSV does not end with CRLF");
  return rows;
}

describe("access export", () => {
  test("JSON is canonical: key order does not change the bytes", () => {
    const a = sample();
    const b = JSON.parse(JSON.stringify(a)) as AccessExport;
    b.datasets = { docs: b.datasets.docs ?? {}, shop: b.datasets.shop ?? {} };
    expect(exportJson(b)).toBe(exportJson(a));
    expect(JSON.parse(exportJson(a))).toEqual(a);
  });

  test("CSV parses back to every value, its field path and its categories", () => {
    const rows = parseCsv(exportCsv(sample()));
    expect(rows[0]).toEqual(["dataset", "collection", "row", "field", "category", "value"]);
    const body = rows.slice(1);
    expect(body.every((r) => r.length === 6)).toBe(true);
    const find = (field: string) => body.find((r) => r[3] === field);
    expect(find("name")).toEqual([
      "shop",
      "customer",
      '{"id":1}',
      "name",
      "user.name",
      '<script>alert("x")</script>',
    ]);
    expect(find("note")?.[5]).toBe('says "hi", then\r\nleaves');
    expect(find("id")?.[5]).toBe("1");
    expect(find("contacts[1].name")).toEqual([
      "docs",
      "details",
      "d-1",
      "contacts[1].name",
      "user.name",
      "Lia & Co",
    ]);
    expect(find("contacts[0].phone")?.[4]).toBe("user.contact.phone_number;user.contact");
    expect(find("contacts[1].phone")?.[5]).toBe("");
    expect(find("children[0]")?.[5]).toBe("Kai");
    expect(find("ok")?.[5]).toBe("true");
    expect(body).toHaveLength(10);
  });

  test("HTML escapes every value, runs no script and loads nothing", () => {
    const html = exportHtml(sample());
    expect(html).not.toContain("<script");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).toContain("Lia &amp; Co");
    expect(html).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/,
    );
    expect(html).not.toMatch(/\b(src|href)=/);
    // The CSP allows exactly the page's own style block.
    const style = /<style>([^<]*)<\/style>/.exec(html)?.[1] ?? "";
    expect(html).toContain(`'sha256-${createHash("sha256").update(style).digest("base64")}'`);
    // Categories in plain words, a table per collection that has rows.
    expect(html).toContain("email address");
    expect(html).toContain("phone number; contact details");
    expect(html.match(/<table>/g)).toHaveLength(2);
    expect(html).toContain("customer (1 record)");
  });

  test("categories read as plain words, unknown ones from their parts", () => {
    expect(categoryInWords("user.contact.email")).toBe("email address");
    expect(categoryInWords("user.biometric.fingerprint")).toBe("biometric, fingerprint");
  });
});

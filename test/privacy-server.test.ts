// Privacy operations on a running server, the way a data protection officer meets them: the data
// map and records of processing served from the configured map; a person's access request taken
// at the public endpoint, verified by the code mailed to them, executed against a real PostgreSQL
// and downloadable only with their status token; an erasure that waits for a person's approval;
// the personal-data-breach playbook opening a breach record with running clocks; and who may see
// what (an operator reads requests but never downloads a person's data).
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { codeIn } from "../src/data/privacy/requests/testing.ts";
import { verifyReceipt } from "../src/data/privacy/dsr/index.ts";
import { newEvent } from "../src/platform/events/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { freshDatabase } from "./support/pg.ts";
import { type SmtpSink, startSmtpSink } from "./support/sinks.ts";

const map = `dataset:
  - fides_key: shop
    name: Shop database
    collections:
      - name: users
        fields:
          - { name: id, data_categories: [user.unique_id], fides_meta: { primary_key: true, data_type: integer } }
          - { name: email, data_categories: [user.contact.email], fides_meta: { identity: email, data_type: string } }
          - { name: name, data_categories: [user.name], fides_meta: { data_type: string } }
          - { name: plan, data_categories: [system.operations] }
      - name: orders
        fields:
          - { name: id, data_categories: [system.operations], fides_meta: { primary_key: true } }
          - name: user_id
            data_categories: [system.operations]
            fides_meta: { references: [{ dataset: shop, field: users.id, direction: from }] }
          - { name: ship_to, data_categories: [user.contact.address], fides_meta: { data_type: string } }
          - { name: total, data_categories: [system.operations] }
system:
  - fides_key: storefront
    name: Storefront
    purposes: [essential.service]
    datasets: [shop]
    regions: [eu-west-1]
purpose:
  - fides_key: essential.service
    name: Selling and delivering orders
    legal_basis: contract
    data_categories: [user.contact, user.name]
    data_subjects: [customer]
`;

let t: TestServer;
let smtp: SmtpSink;
let shop: { url: string; drop(): Promise<void> };
let db: pg.Client;
let officer: string;
let operator: string;

const publicCall = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: (text.startsWith("{") ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
};

const codeFor = async (email: string) => {
  await vi.waitFor(() => expect(smtp.received.some((m) => m.to.includes(email))).toBe(true), {
    timeout: 10_000,
  });
  const mail = smtp.received
    .filter((m) => m.to.includes(email) && (m.parsed.subject ?? "").includes("code"))
    .at(-1);
  return codeIn(mail?.parsed.text ?? "");
};

beforeAll(async () => {
  smtp = await startSmtpSink();
  shop = await freshDatabase(inject("pgUrl"));
  db = new pg.Client({ connectionString: shop.url });
  await db.connect();
  await db.query(`create table users (id integer primary key, email text not null, name text, plan text)`);
  await db.query(`create table orders (id integer primary key, user_id integer not null references users(id),
    ship_to text, total numeric not null)`);
  await db.query(`create index on orders (user_id)`);
  await db.query(
    `insert into users values (1, 'ana@example.com', 'Ana Lima', 'pro'), (2, 'bo@example.com', 'Bo Chen', 'free')`,
  );
  await db.query(`insert into orders values (10, 1, '1 Rua Augusta, Lisboa', 42.5), (11, 1, '1 Rua Augusta, Lisboa', 9),
    (12, 2, '5 Baker St, London', 19)`);
  t = await startTestServer({
    name: "privacy-server",
    files: { "privacy/shop.yaml": map },
    config: (work) => ({
      identity: { tokens: { secret: "privacy-server-test-secret-0123456789abcdef" } },
      rbac: {
        bindings: [
          { role: "privacy-officer", users: ["corp:pia"] },
          { role: "operator", users: ["corp:otto"] },
        ],
      },
      privacy: {
        map: [join(work, "privacy")],
        connections: { shop: { type: "postgres", url: shop.url, datasets: ["shop"] } },
        smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: "privacy@shop.example" },
        requests: { organisation: "Shop Ltd", publicUrl: "https://privacy.shop.example" },
      },
    }),
  });
  officer = (await t.apiKeyFor("corp:pia")).key;
  operator = (await t.apiKeyFor("corp:otto")).key;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await db?.end();
  await shop?.drop();
  await smtp?.close();
});

test("the data map and the records of processing come from the configured files", async () => {
  const m = await t.call("GET", "/api/v1/privacy/map", operator);
  expect(m.status).toBe(200);
  const datasets = m.json.datasets as { key: string; collections: { name: string }[] }[];
  expect(datasets.map((d) => d.key)).toEqual(["shop"]);
  expect(datasets[0]?.collections.map((c) => c.name)).toEqual(["users", "orders"]);
  const ropa = await fetch(`${t.url}/api/v1/privacy/ropa?format=markdown`, {
    headers: { authorization: `Bearer ${officer}` },
  });
  const text = await ropa.text();
  expect(ropa.status).toBe(200);
  expect(text).toContain("Shop Ltd");
  expect(text).toContain("Selling and delivering orders");
});

test("an access request: public intake, code by mail, executed on PostgreSQL, downloaded with the status token only", async () => {
  const intake = await publicCall("POST", "/privacy/requests", { kind: "access", email: "ana@example.com" });
  expect(intake.status).toBe(202);
  const id = String(intake.json.id);
  const token = String(intake.json.statusToken);
  const verified = await publicCall("POST", `/privacy/requests/${id}/verify`, {
    code: await codeFor("ana@example.com"),
  });
  expect(verified.json.state).toBe("verified");
  await vi.waitFor(
    async () =>
      expect((await publicCall("GET", `/privacy/requests/${id}/status?token=${token}`)).json.state).toBe(
        "completed",
      ),
    { timeout: 15_000, interval: 100 },
  );

  // The answer's link arrives by mail; the status token alone does not open it.
  expect(
    (await publicCall("GET", `/privacy/requests/${id}/download?token=${token}&format=json`)).status,
  ).toBe(404);
  let link = "";
  await vi.waitFor(() => {
    const mail = smtp.received.find(
      (m) => m.to.includes("ana@example.com") && /\/download\?token=/.test(m.parsed.text ?? ""),
    );
    link =
      /https:\/\/privacy\.shop\.example(\/privacy\/requests\/\S+\/download\?token=[\w-]+)/.exec(
        mail?.parsed.text ?? "",
      )?.[1] ?? "";
    expect(link).not.toBe("");
  });
  const download = await publicCall("GET", `${link}&format=json`);
  expect(download.status).toBe(200);
  const exported = JSON.parse(download.text) as {
    datasets: { shop: Record<string, { values: Record<string, unknown> }[]> };
  };
  expect(exported.datasets.shop.users?.map((r) => r.values.email)).toEqual(["ana@example.com"]);
  expect(exported.datasets.shop.orders?.map((r) => r.values.total).sort()).toEqual(["42.5", "9"]);
  expect(download.text).not.toContain("bo@example.com");
  expect(download.text).not.toContain("Baker St");
  expect((await publicCall("GET", `/privacy/requests/${id}/download?token=${"A".repeat(43)}`)).status).toBe(
    404,
  );

  // The operator sees the request but not the person's data; the privacy officer downloads it.
  const listed = await t.call("GET", "/api/v1/privacy/requests", operator);
  expect(listed.status).toBe(200);
  expect(JSON.stringify(listed.json)).not.toContain("ana@example.com");
  expect((await t.call("GET", `/api/v1/privacy/requests/${id}/export?format=json`, operator)).status).toBe(
    403,
  );
  const html = await fetch(`${t.url}/api/v1/privacy/requests/${id}/export?format=html`, {
    headers: { authorization: `Bearer ${officer}` },
  });
  expect(html.status).toBe(200);
  expect(await html.text()).toContain("Ana Lima");

  // The signed receipt verifies with the audit log's key and is in the audit log.
  const receipt = await t.server.runtime.privacy.engine.receiptOf(id);
  expect(receipt && verifyReceipt(receipt, t.server.runtime.privacy.receiptPublicKey)).toBe(true);
  await t.server.runtime.bus.flush();
  const audit = await t.call("GET", "/api/v1/audit/entries?type=privacy.dsr_completed", t.admin);
  expect(JSON.stringify(audit.json)).toContain(id);
  expect(JSON.stringify(audit.json)).not.toContain("ana@example.com");
});

test("an erasure waits for a person's approval, then masks Bo's personal fields and nothing else", async () => {
  const before = await db.query(
    "select users.id, plan, orders.id as order_id, total from users left join orders on orders.user_id = users.id order by 1, 3",
  );
  // Rampart's own log knows Bo by his email (say, as the actor of an event): the erasure shreds that too.
  t.server.runtime.bus.emit(
    newEvent({ type: "shop.checkout", actor: { kind: "user", id: "bo@example.com" } }),
  );
  await t.server.runtime.bus.flush();
  expect(await t.server.runtime.audit.subjectKey("bo@example.com")).toMatch(/^sk_/);
  const intake = await publicCall("POST", "/privacy/requests", { kind: "erasure", email: "bo@example.com" });
  const id = String(intake.json.id);
  await publicCall("POST", `/privacy/requests/${id}/verify`, { code: await codeFor("bo@example.com") });
  const pending = await t.call("GET", `/api/v1/privacy/requests/${id}`, officer);
  expect(pending.json.state).toBe("verified");
  expect((await db.query("select email from users where id = 2")).rows[0]?.email).toBe("bo@example.com");

  expect((await t.call("POST", `/api/v1/privacy/requests/${id}/approve`, operator, {})).status).toBe(403);
  expect((await t.call("POST", `/api/v1/privacy/requests/${id}/approve`, officer, {})).status).toBe(200);
  await vi.waitFor(
    async () =>
      expect((await t.call("GET", `/api/v1/privacy/requests/${id}`, officer)).json.state).toBe("completed"),
    { timeout: 15_000, interval: 100 },
  );
  expect(await t.server.runtime.audit.subjectKey("bo@example.com")).toBeUndefined();
  const bo = (await db.query("select email, name, plan from users where id = 2")).rows[0] as Record<
    string,
    string
  >;
  expect(bo.email).not.toBe("bo@example.com");
  expect(bo.name).not.toBe("Bo Chen");
  expect(bo.plan).toBe("free");
  expect((await db.query("select ship_to from orders where id = 12")).rows[0]?.ship_to).not.toContain(
    "Baker",
  );
  // Ana's rows and every unmapped value are untouched.
  expect((await db.query("select email, name from users where id = 1")).rows[0]).toEqual({
    email: "ana@example.com",
    name: "Ana Lima",
  });
  const after = await db.query(
    "select users.id, plan, orders.id as order_id, total from users left join orders on orders.user_id = users.id order by 1, 3",
  );
  expect(after.rows).toEqual(before.rows);
});

test("the personal-data-breach playbook opens one breach record with its clocks running", async () => {
  const incident = await t.call("POST", "/api/v1/incidents", t.admin, {
    title: "Customer table exposed",
    priority: "P1",
  });
  expect(incident.status).toBe(201);
  const incidentId = String(incident.json.id);
  for (let i = 0; i < 2; i++) {
    const run = await t.call("POST", "/api/v1/playbooks/personal-data-breach/run", t.admin, {
      incident: incidentId,
    });
    expect(run.status).toBeLessThan(300);
  }
  await vi.waitFor(
    async () => {
      const list = await t.call("GET", "/api/v1/privacy/breaches", officer);
      const breaches = list.json.breaches as {
        incidentId: string;
        clocks: { key: string; dueAt: string; state: string }[];
      }[];
      const mine = breaches.filter((b) => b.incidentId === incidentId);
      expect(mine).toHaveLength(1);
      const clocks = Object.fromEntries(mine[0]?.clocks.map((c) => [c.key, c]) ?? []);
      expect(Object.keys(clocks).sort()).toEqual([
        "cert_in.report",
        "dpdp.board_intimation",
        "dpdp.board_report",
        "dpdp.principals",
        "gdpr.authority",
      ]);
      const hours = (k: string) =>
        Math.round(
          (Date.parse(clocks[k]?.dueAt ?? "") - Date.parse(clocks["gdpr.authority"]?.dueAt ?? "")) /
            3_600_000,
        );
      expect(hours("cert_in.report")).toBe(-66);
      expect(hours("dpdp.board_report")).toBe(0);
      expect(clocks["gdpr.authority"]?.state).toBe("open");
    },
    { timeout: 10_000, interval: 100 },
  );
});

test("a person's sealed details in the audit log: shown only to those allowed, shredded on request, the log still verifies", async () => {
  t.server.runtime.bus.emit(
    newEvent({
      type: "identity.login",
      actor: { kind: "user", id: "corp:ana" },
      data: { provider: "corp" },
      personal: { email: "ana@example.com", name: "Ana Lima" },
    }),
  );
  await t.server.runtime.bus.flush();
  const path = "/api/v1/audit/entries?type=identity.login";
  const sealed = await t.call("GET", path, operator);
  expect(JSON.stringify(sealed.json)).not.toContain("ana@example.com");
  const personalOf = (r: { json: Record<string, unknown> }) =>
    (r.json.entries as { personal?: Record<string, string> }[]).find((e) => e.personal)?.personal;
  expect(personalOf(sealed)).toEqual({ email: "[sealed]", name: "[sealed]" });
  expect((await t.call("GET", `${path}&personal=true`, operator)).status).toBe(403);
  expect(personalOf(await t.call("GET", `${path}&personal=true`, officer))).toEqual({
    email: "ana@example.com",
    name: "Ana Lima",
  });

  const shred = "/api/v1/privacy/audit-subjects/erase";
  expect((await t.call("POST", shred, operator, { identifier: "corp:ana" })).status).toBe(403);
  expect((await t.call("POST", shred, officer, { identifier: "corp:ana" })).json).toEqual({ erased: true });
  expect((await t.call("POST", shred, officer, { identifier: "corp:ana" })).json).toEqual({ erased: false });
  expect(personalOf(await t.call("GET", `${path}&personal=true`, officer))).toEqual({
    email: "[erased]",
    name: "[erased]",
  });
  await t.server.runtime.bus.flush();
  const report = await t.server.runtime.audit.verify();
  expect(report.ok).toBe(true);
});

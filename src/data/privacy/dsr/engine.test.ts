// The engine on both storage backends over in-memory stores seeded with Fides' example datasets:
// access finds exactly the subject's rows, erasure masks exactly the mapped personal fields (keys
// consistently across stores), delete mode deletes, rectification corrects, reruns are idempotent,
// a crashed request resumes to the same end state, receipts verify, exports render safely.
import { generateKeyPairSync } from "node:crypto";
import canonicalize from "canonicalize";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { backends, openTestStore, type TestStore } from "../../../../test/support/stores.ts";
import { manualClock } from "../../../platform/clock.ts";
import { Conflict, Invalid } from "../../../platform/errors.ts";
import type { SecurityEvent } from "../../../platform/events/index.ts";
import type { Store } from "../../../platform/store/index.ts";
import { allFields, type Collection, type DataMap, isPersonalCategory } from "../map/model.ts";
import { MONGO, mapOf, mongoExample, PG, postgresExample, seedRows } from "./fixtures.test-aid.ts";
import {
  type AccessExport,
  type Connector,
  createDsrEngine,
  dsrMigrations,
  type DsrRequest,
  ed25519Signer,
  verifyReceipt,
} from "./index.ts";
import { createMemoryConnector, type MemoryConnector } from "./memory-connector.ts";

const keys = generateKeyPairSync("ed25519");
const signer = ed25519Signer(keys.privateKey, "dsr-test-1");
const ANA = { email: "ana@example.com" };

interface World {
  map: DataMap;
  pg: MemoryConnector;
  mongo: MemoryConnector;
}

function world(mutate?: (map: DataMap) => void): World {
  const map = mapOf(postgresExample(), mongoExample());
  mutate?.(map);
  const pg = createMemoryConnector("postgres");
  const mongo = createMemoryConnector("mongodb");
  const seed = seedRows();
  for (const d of map.datasets)
    for (const c of d.collections) (d.key === PG ? pg : mongo).insert(c, seed[`${d.key}.${c.name}`] ?? []);
  return { map, pg, mongo };
}

/** Whether a reference points at a primary key. */
const keyOf = (map: DataMap, r: { dataset: string; collection: string; field: string }) =>
  map.datasets
    .find((d) => d.key === r.dataset)
    ?.collections.find((c) => c.name === r.collection)
    ?.fields.some((f) => f.path === r.field && f.primaryKey) ?? false;

const snapshot = (w: World) => {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const d of w.map.datasets)
    for (const c of d.collections)
      out[`${d.key}.${c.name}`] = (d.key === PG ? w.pg : w.mongo).rows(`${d.key}.${c.name}`);
  return out;
};

function engineFor(
  store: Store,
  w: World,
  o: {
    events?: SecurityEvent[];
    wrap?: (c: Connector) => Connector;
    maxRows?: number;
    at?: string;
  } = {},
) {
  const pg = o.wrap ? o.wrap(w.pg) : w.pg;
  const mongo = o.wrap ? o.wrap(w.mongo) : w.mongo;
  return createDsrEngine({
    store,
    map: () => w.map,
    connectorFor: (ds) => (ds === PG ? pg : mongo),
    clock: manualClock(o.at ?? "2026-11-26T09:00:00Z"),
    emit: (e) => o.events?.push(e),
    signer,
    ...(o.maxRows ? { maxRowsPerCollection: o.maxRows } : {}),
  });
}

/** A connector whose update/delete calls fail (or never return) once `after` have gone through. */
function crashing(after: number, how: "throw" | "hang", counter = { n: 0 }) {
  return (c: Connector): Connector => {
    const gate = async () => {
      if (counter.n++ < after) return;
      if (how === "throw") throw new Error("connection reset by peer while writing ana@example.com");
      await new Promise(() => {});
    };
    return {
      ...c,
      type: c.type,
      find: c.find.bind(c),
      findBefore: c.findBefore.bind(c),
      check: c.check.bind(c),
      close: c.close.bind(c),
      async update(col, changes) {
        await gate();
        return c.update(col, changes);
      },
      async delete(col, rows) {
        await gate();
        return c.delete(col, rows);
      },
    };
  };
}

const byId = (rows: Record<string, unknown>[], key: string, id: unknown) => rows.find((r) => r[key] === id);

let counter = 0;
const rid = (p: string) => `${p}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

describe.each(backends)("DSR engine on %s", (backend) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await openTestStore(backend, dsrMigrations);
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  test("access finds the subject's rows in every store and exports mapped fields only", async () => {
    const w = world();
    const events: SecurityEvent[] = [];
    const engine = engineFor(ts.store, w, { events });
    const id = rid("acc");
    const receipt = await engine.run({ id, kind: "access", identities: ANA });
    const found = Object.fromEntries(receipt.collections.map((c) => [c.collection, c.found]));
    expect(found).toMatchObject({
      [`${PG}.customer`]: 1,
      [`${PG}.login`]: 2,
      [`${PG}.orders`]: 1,
      [`${PG}.order_item`]: 1,
      [`${PG}.product`]: 1,
      [`${PG}.address`]: 2, // the customer's and the employee's
      [`${PG}.employee`]: 1,
      [`${PG}.service_request`]: 1,
      [`${PG}.payment_card`]: 1,
      [`${PG}.report`]: 1,
      [`${PG}.visit`]: 1,
      [`${MONGO}.customer_details`]: 1,
      [`${MONGO}.flights`]: 1,
      [`${MONGO}.aircraft`]: 1,
      [`${MONGO}.conversations`]: 1,
      [`${MONGO}.payment_card`]: 1,
      [`${MONGO}.customer_feedback`]: 1,
      [`${MONGO}.internal_customer_profile`]: 1,
      [`${MONGO}.rewards`]: 1,
    });
    expect(receipt.exportHash).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);

    const { body, contentType } = await engine.exportOf(id, "json");
    expect(contentType).toMatch(/application\/json/);
    const { createHash } = await import("node:crypto");
    expect(createHash("sha256").update(body).digest("hex")).toBe(receipt.exportHash);
    const exp = JSON.parse(body) as AccessExport;
    expect(exp.request).toEqual({ id, kind: "access", completedAt: receipt.completedAt });
    const customers = exp.datasets[PG]?.customer ?? [];
    expect(customers).toHaveLength(1);
    expect(customers[0]?.values).toEqual({
      address_id: 1,
      created: "2024-01-01",
      email: "ana@example.com",
      id: 1,
      name: "Ana Silva",
    });
    expect(body).not.toContain("internal_note");
    expect(body).not.toContain("bob@example.com");
    const details = exp.datasets[MONGO]?.customer_details?.[0]?.values;
    expect(details?.workplace_info).toEqual({
      employer: "Acme",
      position: "Engineer",
      direct_reports: ["Tom", "Sue"],
    });
    expect(exp.categories[`${MONGO}.customer_details.emergency_contacts.phone`]).toEqual([
      "user.contact.phone_number",
    ]);

    // Rerunning a finished request returns its receipt.
    expect(await engine.run({ id, kind: "access", identities: ANA })).toEqual(receipt);
    await expect(engine.run({ id, kind: "erasure", identities: ANA })).rejects.toBeInstanceOf(Conflict);
    expect(await engine.receiptOf(id)).toEqual(receipt);

    expect(events.map((e) => e.type)).toEqual(["privacy.dsr_started", "privacy.dsr_completed"]);
    const text = JSON.stringify(events);
    for (const personal of ["ana@example.com", "Ana Silva", "4111111111111111"])
      expect(text).not.toContain(personal);
    expect(events[1]?.data).toMatchObject({
      requestId: id,
      kind: "access",
      exportHash: receipt.exportHash,
      signature: receipt.signature,
    });
    expect(events[1]?.target).toEqual({ kind: "privacy_request", id });
    expect(events[1]?.actor).toEqual({ kind: "system", id: "privacy" });

    // Nothing identifying the subject stays in the request row; the export does (it is theirs).
    const row = await sql<{
      identities: string;
      secret: string | null;
    }>`select identities, secret from privacy_dsr_requests where id = ${id}`.execute(ts.store.db);
    expect(row.rows[0]).toEqual({ identities: "{}", secret: null });
  });

  test("erasure masks exactly the mapped personal fields of the subject's rows", async () => {
    const w = world();
    const before = snapshot(w);
    const engine = engineFor(ts.store, w);
    const id = rid("era");
    const receipt = await engine.run({ id, kind: "erasure", identities: ANA });
    const after = snapshot(w);
    expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);

    // Bob's rows are untouched everywhere.
    expect(byId(after[`${PG}.customer`] ?? [], "id", 2)).toEqual(
      byId(before[`${PG}.customer`] ?? [], "id", 2),
    );
    expect(byId(after[`${MONGO}.customer_details`] ?? [], "_id", "cd-2")).toEqual(
      byId(before[`${MONGO}.customer_details`] ?? [], "_id", "cd-2"),
    );
    expect(after[`${PG}.product`]).toEqual(before[`${PG}.product`]);

    // Ana's customer row: personal fields masked, operations and unmapped fields kept.
    const ana = (after[`${PG}.customer`] ?? []).find((r) => r.created === "2024-01-01") as Record<
      string,
      unknown
    >;
    expect(ana.email).toMatch(/^[0-9a-f]{64}$/);
    expect(ana.name).toMatch(/^[0-9a-f]{40}$/); // cut to the column length
    expect(ana.address_id).toBe(1);
    expect(ana.internal_note).toBe("vip");
    expect(ana.id).toBe(1); // a primary key locates the row and keeps its value

    // The override of employee.name.
    expect((after[`${PG}.employee`] ?? []).find((r) => r.address_id === 3)?.name).toBe("testing");
    // A field with only system categories and a primary key without a personal category stay.
    expect(byId(after[`${PG}.report`] ?? [], "id", 1)).toMatchObject({ id: 1, name: "jan", total_visits: 3 });
    expect(byId(after[`${PG}.address`] ?? [], "id", 1)).toMatchObject({ id: 1 });
    expect(byId(after[`${PG}.address`] ?? [], "id", 1)?.city).not.toBe("Lisbon");

    // Nested: masked inside a copy of the top-level value, unmapped/uncategorised nested fields kept.
    const cd = byId(after[`${MONGO}.customer_details`] ?? [], "_id", "cd-1") as {
      workplace_info: { employer: string; position: string; direct_reports: string[] };
      emergency_contacts: { name: string; relationship: string }[];
      travel_identifiers: string[];
    };
    expect(cd.workplace_info.employer).toBe("Acme");
    expect(cd.workplace_info.position).not.toBe("Engineer");
    expect(cd.workplace_info.direct_reports).toHaveLength(2);
    expect(cd.workplace_info.direct_reports).not.toContain("Tom");
    expect(cd.emergency_contacts.map((c) => c.relationship)).toEqual(["brother", "friend"]);
    expect(cd.emergency_contacts.map((c) => c.name)).not.toContain("Rui");
    expect(cd.travel_identifiers).toEqual(["A111", "A112"]);
    const conv = byId(after[`${MONGO}.conversations`] ?? [], "_id", "cv-1") as {
      thread: { message: string; chat_name: string }[];
    };
    expect(conv.thread[0]?.message).toBe("hello");
    expect(conv.thread[0]?.chat_name).not.toBe("Ana");

    // Field by field: a changed value is always a mapped personal field; a mapped personal field
    // of a found row always changed.
    const touched = new Set(receipt.collections.filter((c) => c.found > 0).map((c) => c.collection));
    for (const d of w.map.datasets)
      for (const c of d.collections) {
        const address = `${d.key}.${c.name}`;
        const personal = new Set(
          allFields(c.fields)
            .filter((f) => f.categories.some(isPersonalCategory))
            .map((f) => f.path.split(".")[0]),
        );
        const nestedOnly = new Set(c.fields.filter((f) => f.fields.length > 0).map((f) => f.name));
        const b = before[address] ?? [];
        const a = after[address] ?? [];
        expect(a).toHaveLength(b.length);
        b.forEach((row, i) => {
          for (const k of Object.keys(row)) {
            const changed = JSON.stringify(row[k]) !== JSON.stringify(a[i]?.[k]);
            if (changed) {
              expect(touched.has(address), `${address}.${k} changed but nothing was found there`).toBe(true);
              expect(personal.has(k) || nestedOnly.has(k), `${address}.${k} is not personal`).toBe(true);
            }
          }
        });
      }
    // And the other way: every non-null, non-nested personal field of every row access finds changed.
    const probe = rid("probe");
    const fresh = world();
    await engineFor(ts.store, fresh).run({ id: probe, kind: "access", identities: ANA });
    const exp = JSON.parse((await engineFor(ts.store, fresh).exportOf(probe, "json")).body) as AccessExport;
    let checked = 0;
    for (const d of w.map.datasets)
      for (const c of d.collections) {
        const address = `${d.key}.${c.name}`;
        for (const r of exp.datasets[d.key]?.[c.name] ?? []) {
          const i = (before[address] ?? []).findIndex((b) =>
            Object.entries(r.values).every(([k, v]) => canonicalize(b[k]) === canonicalize(v)),
          );
          expect(i, `${address} row ${r.id}`).toBeGreaterThanOrEqual(0);
          for (const f of c.fields)
            if (
              f.fields.length === 0 &&
              // Keys and the fields referencing them keep their value (see the next test).
              !f.primaryKey &&
              !f.references.some((r) => keyOf(w.map, r)) &&
              f.categories.some(isPersonalCategory) &&
              (before[address]?.[i]?.[f.name] ?? null) !== null
            ) {
              expect(after[address]?.[i]?.[f.name], `${address}.${f.name} of row ${r.id}`).not.toEqual(
                before[address]?.[i]?.[f.name],
              );
              checked++;
            }
        }
      }
    expect(checked).toBeGreaterThan(30);
    const sum = (k: "masked" | "deleted") => receipt.collections.reduce((n, c) => n + c[k], 0);
    expect(sum("masked")).toBeGreaterThan(15);
    expect(sum("deleted")).toBe(0);
  });

  test("primary keys and the fields referencing them keep their values unless the key opts in", async () => {
    const w = world();
    await engineFor(ts.store, w).run({ id: rid("pk"), kind: "erasure", identities: ANA });
    const s = snapshot(w);
    const ana = (s[`${PG}.customer`] ?? []).find((r) => r.created === "2024-01-01");
    expect(ana?.id).toBe(1);
    expect(ana?.email).not.toBe("ana@example.com");
    expect(byId(s[`${PG}.orders`] ?? [], "id", "ord-1")?.customer_id).toBe(1);
    expect(byId(s[`${MONGO}.customer_details`] ?? [], "_id", "cd-1")?.customer_id).toBe(1);
  });

  test("a key that opts in is masked the same across datasets within a request and differently across requests", async () => {
    const optIn = (map: DataMap) => {
      const customer = map.datasets[0]?.collections.find((c) => c.name === "customer") as Collection;
      const id = customer.fields.find((f) => f.name === "id");
      if (id) id.masking = { strategy: "hmac" };
    };
    const w1 = world(optIn);
    const w2 = world(optIn);
    await engineFor(ts.store, w1).run({ id: rid("fk"), kind: "erasure", identities: ANA });
    await engineFor(ts.store, w2).run({ id: rid("fk"), kind: "erasure", identities: ANA });
    const masked = (w: World) => {
      const s = snapshot(w);
      const customer = (s[`${PG}.customer`] ?? []).find((r) => r.created === "2024-01-01");
      return {
        customer: customer?.id,
        login: (s[`${PG}.login`] ?? [])
          .filter((r) => r.time !== "2024-03-03T10:00:00Z")
          .map((r) => r.customer_id),
        orders: byId(s[`${PG}.orders`] ?? [], "id", "ord-1")?.customer_id,
        card: byId(s[`${PG}.payment_card`] ?? [], "id", "pay-1")?.customer_id,
        details: byId(s[`${MONGO}.customer_details`] ?? [], "_id", "cd-1")?.customer_id,
        bob: byId(s[`${MONGO}.customer_details`] ?? [], "_id", "cd-2")?.customer_id,
      };
    };
    const m1 = masked(w1);
    expect(m1.customer).not.toBe(1);
    expect(m1.login).toEqual([m1.customer, m1.customer]);
    expect(m1.orders).toBe(m1.customer);
    expect(m1.card).toBe(m1.customer);
    expect(m1.details).toBe(m1.customer);
    expect(m1.bob).toBe(2);
    const m2 = masked(w2);
    expect(m2.orders).toBe(m2.customer);
    expect(m2.customer).not.toBe(m1.customer);
  });

  test("delete mode deletes the subject's rows, by collection or by policy", async () => {
    const w = world((map) => {
      const login = map.datasets[0]?.collections.find((c) => c.name === "login") as Collection;
      login.erasure = "delete";
    });
    const r = await engineFor(ts.store, w).run({ id: rid("del"), kind: "erasure", identities: ANA });
    expect(w.pg.rows(`${PG}.login`).map((x) => x.id)).toEqual([102]);
    expect(r.collections.find((c) => c.collection === `${PG}.login`)).toMatchObject({
      found: 2,
      deleted: 2,
      masked: 0,
    });

    const w2 = world();
    await engineFor(ts.store, w2).run({
      id: rid("del"),
      kind: "erasure",
      identities: ANA,
      policy: { force: "delete", categories: ["user.contact"] },
    });
    // Only collections with contact data are erased under that policy.
    expect(w2.pg.rows(`${PG}.customer`).map((x) => x.id)).toEqual([2]);
    expect(w2.pg.rows(`${PG}.login`)).toHaveLength(3);
    expect(w2.mongo.rows(`${MONGO}.rewards`).map((x) => x._id)).toEqual(["rw-2"]);
  });

  test("rectification sets the corrected fields on the subject's rows only", async () => {
    const w = world();
    const engine = engineFor(ts.store, w);
    const r = await engine.run({
      id: rid("rect"),
      kind: "rectification",
      identities: ANA,
      corrections: [
        { field: `${PG}.customer.name`, value: "Ana Lima" },
        { field: `${MONGO}.customer_details.workplace_info.position`, value: "Manager" },
      ],
    });
    expect(w.pg.rows(`${PG}.customer`).map((x) => x.name)).toEqual(["Ana Lima", "Bob Stone"]);
    const details = w.mongo.rows(`${MONGO}.customer_details`);
    expect(details[0]?.workplace_info).toEqual({
      employer: "Acme",
      position: "Manager",
      direct_reports: ["Tom", "Sue"],
    });
    expect(details[1]?.workplace_info).toMatchObject({ position: "Chef" });
    expect(r.collections.find((c) => c.collection === `${PG}.customer`)?.corrected).toBe(1);

    await expect(
      engine.run({
        id: rid("rect"),
        kind: "rectification",
        identities: ANA,
        corrections: [{ field: `${PG}.customer.nickname`, value: "x" }],
      }),
    ).rejects.toThrow(/corrections\.0\.field: '.*customer\.nickname' is not a field of the data map/);
    await expect(
      engine.run({
        id: rid("rect"),
        kind: "rectification",
        identities: ANA,
        corrections: [{ field: `${PG}.customer.id`, value: 9 }],
      }),
    ).rejects.toBeInstanceOf(Invalid);
    await expect(engine.run({ id: rid("rect"), kind: "rectification", identities: ANA })).rejects.toThrow(
      /at least one correction/,
    );
  });

  test("rerunning a finished request writes nothing and returns the same receipt", async () => {
    const w = world();
    const engine = engineFor(ts.store, w);
    const req: DsrRequest = { id: rid("idem"), kind: "erasure", identities: ANA };
    // Two calls at once share one run.
    const [first, twin] = await Promise.all([engine.run(req), engine.run(req)]);
    expect(twin).toEqual(first);
    const writes = w.pg.writes + w.mongo.writes;
    const state = snapshot(w);
    // A second engine (another process) sees the same finished request.
    const again = await engineFor(ts.store, w).run(req);
    expect(again).toEqual(first);
    expect(w.pg.writes + w.mongo.writes).toBe(writes);
    expect(snapshot(w)).toEqual(state);
    // Found rows and the masking secret do not outlive the erasure.
    const left = await sql<{
      n: number;
    }>`select count(*)::int as n from privacy_dsr_tasks where request_id = ${req.id} and rows is not null`.execute(
      ts.store.db,
    );
    expect(left.rows[0]?.n).toBe(0);
    const secret = await sql<{
      secret: string | null;
    }>`select secret from privacy_dsr_requests where id = ${req.id}`.execute(ts.store.db);
    expect(secret.rows[0]?.secret).toBeNull();
  });

  test.each(["throw", "hang"] as const)(
    "a request that crashes mid-erasure (%s) resumes to the same end state as an uninterrupted run",
    async (how) => {
      const crashed = world();
      const reference = world();
      const events: SecurityEvent[] = [];
      const id = rid(`crash-${how}`);
      const req: DsrRequest = { id, kind: "erasure", identities: ANA };
      const first = engineFor(ts.store, crashed, { events, wrap: crashing(5, how) });
      if (how === "throw") {
        await expect(first.run(req)).rejects.toThrow(/connection reset/);
        const failed = events.find((e) => e.type === "privacy.dsr_failed");
        expect(failed?.data.reason).toMatch(/^erasure of .* failed \(Error\)$/);
        expect(JSON.stringify(events)).not.toContain("ana@example.com");
      } else {
        void first.run(req);
        // Let the hung run reach its sixth write: the "process" dies there.
        for (let i = 0; i < 200 && crashed.pg.writes + crashed.mongo.writes < 5; i++)
          await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(crashed.pg.writes + crashed.mongo.writes).toBe(5);
      expect(await first.receiptOf(id)).toBeUndefined();
      const { rows } = await sql<{
        state: string;
        n: number;
      }>`select state, count(*)::int as n from privacy_dsr_tasks where request_id = ${id} and phase = 'erasure' group by state`.execute(
        ts.store.db,
      );
      expect(rows.find((r) => r.state === "done")?.n).toBeGreaterThan(0);
      expect(rows.find((r) => r.state === "running")?.n).toBeGreaterThan(0);

      // The reference: the same request secret, run without interruption from the start.
      const secret = (
        await sql<{ secret: string }>`select secret from privacy_dsr_requests where id = ${id}`.execute(
          ts.store.db,
        )
      ).rows[0]?.secret;
      const refId = `${id}-ref`;
      await sql`insert into privacy_dsr_requests (id, kind, status, identities, policy, corrections, secret, started_at)
        values (${refId}, 'erasure', 'running', ${JSON.stringify(ANA)}, '{}', '[]', ${secret}, now())`.execute(
        ts.store.db,
      );
      const refEngine = engineFor(ts.store, reference);
      await refEngine.run({ id: refId, kind: "erasure", identities: ANA });

      const before = crashed.pg.writes + crashed.mongo.writes;
      // A hung engine still holds its claim: another server may not run the request until it lapses.
      const later = how === "hang" ? "2026-11-26T09:10:01Z" : "2026-11-26T09:00:00Z";
      if (how === "hang") {
        await expect(engineFor(ts.store, crashed).run(req)).rejects.toThrow(/being run by another server/);
        expect(await engineFor(ts.store, crashed).resumePending()).toBe(0);
      }
      const second = engineFor(ts.store, crashed, { at: later });
      const receipt =
        how === "throw"
          ? await second.run(req)
          : await second.resumePending().then(async (n) => {
              expect(n).toBeGreaterThanOrEqual(1);
              return (await second.receiptOf(id)) as NonNullable<
                Awaited<ReturnType<typeof second.receiptOf>>
              >;
            });
      expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);
      expect(snapshot(crashed)).toEqual(snapshot(reference));
      // Finished collections were skipped: fewer writes than a whole run.
      const whole = reference.pg.writes + reference.mongo.writes;
      expect(crashed.pg.writes + crashed.mongo.writes - before).toBeLessThan(whole);
      const refReceipt = await refEngine.receiptOf(refId);
      expect(receipt.collections).toEqual(refReceipt?.collections);
    },
  );

  test("a receipt fails to verify once changed or with another key", async () => {
    const w = world();
    const receipt = await engineFor(ts.store, w).run({ id: rid("sig"), kind: "erasure", identities: ANA });
    expect(verifyReceipt(receipt, keys.publicKey)).toBe(true);
    expect(verifyReceipt(receipt, keys.publicKey.export({ type: "spki", format: "pem" }).toString())).toBe(
      true,
    );
    const first = receipt.collections[0];
    if (!first) throw new Error("no collections");
    const tampered = {
      ...receipt,
      collections: [{ ...first, masked: first.masked + 1 }, ...receipt.collections.slice(1)],
    };
    expect(verifyReceipt(tampered, keys.publicKey)).toBe(false);
    expect(verifyReceipt({ ...receipt, completedAt: "2020-01-01T00:00:00.000Z" }, keys.publicKey)).toBe(
      false,
    );
    expect(verifyReceipt({ ...receipt, signature: "AAAA" }, keys.publicKey)).toBe(false);
    expect(verifyReceipt(receipt, generateKeyPairSync("ed25519").publicKey)).toBe(false);
  });

  test("aes_encrypt erasure keeps the request secret; an oversized collection fails the request", async () => {
    const w = world();
    const id = rid("aes");
    await engineFor(ts.store, w).run({
      id,
      kind: "erasure",
      identities: ANA,
      policy: { masking: { strategy: "aes_encrypt" } },
    });
    const s = await sql<{
      secret: string | null;
    }>`select secret from privacy_dsr_requests where id = ${id}`.execute(ts.store.db);
    expect(s.rows[0]?.secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(byId(w.pg.rows(`${PG}.visit`), "last_visit", "2024-04-01")?.email).toMatch(/^tok:v1:/);

    const events: SecurityEvent[] = [];
    const big = rid("big");
    await expect(
      engineFor(ts.store, world(), { events, maxRows: 1 }).run({ id: big, kind: "access", identities: ANA }),
    ).rejects.toThrow(/found more than 1 rows/);
    expect(events.at(-1)?.type).toBe("privacy.dsr_failed");
  });

  test("unreachable personal data refuses the request before anything is stored", async () => {
    const w = world();
    const engine = engineFor(ts.store, w);
    const id = rid("unreach");
    await expect(
      engine.run({ id, kind: "access", identities: { phone_number: "+351911111111" } }),
    ).rejects.toThrow(/cannot be reached/);
    expect(await engine.receiptOf(id)).toBeUndefined();
    const n = await sql<{
      n: number;
    }>`select count(*)::int as n from privacy_dsr_requests where id = ${id}`.execute(ts.store.db);
    expect(n.rows[0]?.n).toBe(0);
    expect(engine.plan("access", ["email"]).order).toHaveLength(20);
  });
});

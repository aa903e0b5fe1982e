// The planner over Fides' example datasets: every collection reached from an email, each after the
// collections whose values it is queried by (across stores too), unreachable personal data refused,
// `after` and `erase_after` honoured and their cycles refused.
import { describe, expect, test } from "vitest";
import { Invalid } from "../../../platform/errors.ts";
import { collection, dataset, MONGO, mapOf, mongoExample, PG, postgresExample } from "./fixtures.test-aid.ts";
import { planRequest } from "./graph.ts";

const both = () => mapOf(postgresExample(), mongoExample());
const before = (order: string[], a: string, b: string) => {
  expect(order).toContain(a);
  expect(order).toContain(b);
  expect(order.indexOf(a), `${a} before ${b}`).toBeLessThan(order.indexOf(b));
};

describe("planning", () => {
  test("an email reaches every collection of both example datasets, upstream first", () => {
    const plan = planRequest(both(), "access", ["email"]);
    const all = [...postgresExample().collections, ...mongoExample().collections].map(
      (c) => `${c.dataset}.${c.name}`,
    );
    expect([...plan.order].sort()).toEqual(all.sort());
    expect(plan.unreachable).toEqual([]);
    // direction "from": the referenced collection first; "to": this one first.
    before(plan.order, `${PG}.customer`, `${PG}.login`);
    before(plan.order, `${PG}.customer`, `${PG}.orders`);
    before(plan.order, `${PG}.customer`, `${PG}.address`);
    before(plan.order, `${PG}.orders`, `${PG}.address`);
    before(plan.order, `${PG}.orders`, `${PG}.order_item`);
    before(plan.order, `${PG}.order_item`, `${PG}.product`);
    before(plan.order, `${PG}.employee`, `${PG}.service_request`);
    // Across stores: the Mongo details of a Postgres customer.
    before(plan.order, `${PG}.customer`, `${MONGO}.customer_details`);
    before(plan.order, `${MONGO}.customer_details`, `${MONGO}.flights`);
    before(plan.order, `${MONGO}.flights`, `${MONGO}.aircraft`);
    // Kahn: a collection with an identity of its own still waits for every upstream input.
    before(plan.order, `${MONGO}.flights`, `${MONGO}.employee`);
    before(plan.order, `${MONGO}.customer_feedback`, `${MONGO}.internal_customer_profile`);
    before(plan.order, `${MONGO}.internal_customer_profile`, `${MONGO}.rewards`);
    before(plan.order, `${MONGO}.conversations`, `${MONGO}.payment_card`);

    const login = plan.nodes.get(`${PG}.login`);
    expect(login?.references).toEqual([{ from: `${PG}.customer`, fromPath: "id", toPath: "customer_id" }]);
    const employee = plan.nodes.get(`${MONGO}.employee`);
    expect(employee?.identities).toEqual([{ identityType: "email", toPath: "email" }]);
    expect(employee?.references).toEqual([{ from: `${MONGO}.flights`, fromPath: "pilots", toPath: "id" }]);
    const profile = plan.nodes.get(`${MONGO}.internal_customer_profile`);
    expect(profile?.identities).toEqual([
      { identityType: "email", toPath: "customer_identifiers.derived_emails" },
    ]);
  });

  test("unreachable collections holding personal data fail the plan, listing every one", () => {
    const err = (() => {
      try {
        planRequest(both(), "access", ["phone_number"]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(Invalid);
    const message = (err as Error).message;
    for (const c of [`${PG}.customer`, `${PG}.login`, `${MONGO}.customer_details`, `${MONGO}.employee`])
      expect(message).toContain(c);
    // Reached through derived_phone, so not listed.
    expect(message).not.toContain(`${MONGO}.rewards`);
    expect(message).not.toContain("ana@");
  });

  test("unreachable collections without personal data are only reported (fidesops#96)", () => {
    const pg = postgresExample();
    pg.collections.push(
      collection(PG, "daily_stats", [{ name: "day", cat: ["system.operations"], pk: true }]),
    );
    const plan = planRequest(mapOf(pg, mongoExample()), "access", ["email"]);
    expect(plan.unreachable).toEqual([`${PG}.daily_stats`]);
    expect(plan.order).not.toContain(`${PG}.daily_stats`);
  });

  test("a skip_processing collection is passed by: not walked, not reported, its references ignored", () => {
    const pg = postgresExample();
    const customer = pg.collections.find((c) => c.name === "customer");
    if (!customer) throw new Error("fixture");
    customer.skipProcessing = true;
    // login and orders were reached only through customer.id.
    expect(() => planRequest(mapOf(pg), "access", ["email"])).toThrow(/login.*orders|orders.*login/);
    for (const name of ["login", "orders", "order_item", "payment_card"]) {
      const c = pg.collections.find((x) => x.name === name);
      if (c) c.skipProcessing = true;
    }
    const plan = planRequest(mapOf(pg), "access", ["email"]);
    expect(plan.order).not.toContain(`${PG}.customer`);
    expect(plan.unreachable).not.toContain(`${PG}.customer`);
    expect(plan.order).toContain(`${PG}.employee`);
  });

  test("for erasure, only collections under the policy's categories must be reachable", () => {
    const ds = dataset("shop", [
      collection("shop", "customer", [
        { name: "email", cat: ["user.contact.email"], identity: "email", pk: true },
      ]),
      collection("shop", "devices", [{ name: "serial", cat: ["user.device"], pk: true }]),
    ]);
    expect(() => planRequest(mapOf(ds), "erasure", ["email"])).toThrow(/shop\.devices/);
    const plan = planRequest(mapOf(ds), "erasure", ["email"], { categories: ["user.contact"] });
    expect(plan.unreachable).toEqual(["shop.devices"]);
  });

  test("an undirected reference is walked from the end the identity reaches first", () => {
    const ds = dataset("app", [
      collection("app", "tickets", [
        { name: "id", pk: true, cat: ["system.operations"] },
        { name: "user_id", cat: ["user.unique_id"], ref: [["app", "users.id"]] },
      ]),
      collection("app", "users", [
        { name: "id", pk: true, cat: ["user.unique_id"] },
        { name: "email", cat: ["user.contact.email"], identity: "email" },
      ]),
    ]);
    const plan = planRequest(mapOf(ds), "access", ["email"]);
    expect(plan.order).toEqual(["app.users", "app.tickets"]);
    expect(plan.nodes.get("app.tickets")?.references).toEqual([
      { from: "app.users", fromPath: "id", toPath: "user_id" },
    ]);
  });

  test("`after` orders collections, and an `after` cycle is refused", () => {
    const pg = postgresExample();
    const report = pg.collections.find((c) => c.name === "report");
    const visit = pg.collections.find((c) => c.name === "visit");
    if (!report || !visit) throw new Error("fixture");
    report.after = [`${PG}.visit`];
    before(planRequest(mapOf(pg, mongoExample()), "access", ["email"]).order, `${PG}.visit`, `${PG}.report`);
    visit.after = [`${PG}.report`];
    expect(() => planRequest(mapOf(pg, mongoExample()), "access", ["email"])).toThrow(
      /'after' lists of these collections form a cycle: .*report.*visit/,
    );
  });

  test("erasure runs in layers that only erase_after orders; a cycle is refused", () => {
    const pg = postgresExample();
    const customer = pg.collections.find((c) => c.name === "customer");
    const orders = pg.collections.find((c) => c.name === "orders");
    if (!customer || !orders) throw new Error("fixture");
    customer.eraseAfter = [`${PG}.orders`, `${PG}.login`];
    const plan = planRequest(mapOf(pg, mongoExample()), "erasure", ["email"]);
    expect(plan.erasureLayers).toHaveLength(2);
    expect(plan.erasureLayers[0]).toContain(`${PG}.orders`);
    expect(plan.erasureLayers[0]).toContain(`${PG}.login`);
    expect(plan.erasureLayers[0]).toContain(`${MONGO}.customer_details`);
    expect(plan.erasureLayers[1]).toEqual([`${PG}.customer`]);
    orders.eraseAfter = [`${PG}.customer`];
    expect(() => planRequest(mapOf(pg, mongoExample()), "erasure", ["email"])).toThrow(
      /erase_after lists of these collections form a cycle: .*customer.*orders/,
    );
  });

  test("references and ordering lists must name what the map declares", () => {
    const ds = dataset("app", [
      collection("app", "users", [
        { name: "email", cat: ["user.contact.email"], identity: "email", ref: [["app", "ghost.id"]] },
      ]),
    ]);
    expect(() => planRequest(mapOf(ds), "access", ["email"])).toThrow(
      /app\.ghost\.id, which is not in the data map/,
    );
    const ds2 = dataset("app", [
      collection("app", "users", [{ name: "email", cat: ["user.contact.email"], identity: "email" }], {
        eraseAfter: ["app.nowhere"],
      }),
    ]);
    expect(() => planRequest(mapOf(ds2), "erasure", ["email"])).toThrow(/erase_after names app\.nowhere/);
  });

  test("a reference cycle is broken nearest the root instead of stalling the walk", () => {
    const ds = dataset("app", [
      collection("app", "a", [
        { name: "email", cat: ["user.contact.email"], identity: "email", pk: true },
        { name: "b_id", cat: ["user.unique_id"], ref: [["app", "b.id", "from"]] },
      ]),
      collection("app", "b", [
        { name: "id", cat: ["user.unique_id"], pk: true },
        { name: "a_email", cat: ["user.contact.email"], ref: [["app", "a.email", "from"]] },
      ]),
    ]);
    const plan = planRequest(mapOf(ds), "access", ["email"]);
    expect(plan.order).toEqual(["app.a", "app.b"]);
    expect(plan.nodes.get("app.a")?.references).toEqual([]);
  });
});

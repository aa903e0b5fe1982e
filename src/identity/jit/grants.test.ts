// Grants as replicas see them: through the real Redis a revocation on one server reaches another
// replica's cache within a second; the record expires with its last grant; writers do not lose
// each other's grants.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, inject, test } from "vitest";
import { openTestStore, type TestStore } from "../../../test/support/stores.ts";
import { manualClock, systemClock } from "../../platform/clock.ts";
import { createMemoryHotState, createRedisHotState, type HotState } from "../../platform/hotstate/index.ts";
import type { Identity } from "../types.ts";
import { createGrantCache, publishGrant, withdrawGrants } from "./grants.ts";
import { createJitAccess, jitConfigSchema, jitMigrations } from "./index.ts";

const person = (subject: string, groups: string[]): Identity => ({
  kind: "user",
  subject,
  groups,
  roles: [],
  claims: {},
  credential: "session",
});

/** Retries `check` until it passes or `timeoutMs` has gone by. */
async function eventually(check: () => Promise<void>, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("grants across replicas over Redis", () => {
  test("a revocation on one server is seen by another replica's cache within 1 s", async () => {
    const prefix = `test:jit:${randomUUID()}:`;
    const url = inject("redisUrl");
    const ts: TestStore = await openTestStore("pglite", jitMigrations);
    cleanups.push(() => ts.cleanup());
    const server = createRedisHotState({ url, keyPrefix: prefix });
    const replica = createRedisHotState({ url, keyPrefix: prefix });
    cleanups.push(
      () => server.close(),
      () => replica.close(),
    );

    const jit = await createJitAccess({
      store: ts.store,
      hotState: server,
      clock: systemClock,
      emit: () => {},
      policy: jitConfigSchema.parse({
        roles: [
          {
            role: "operator",
            requesters: { groups: ["eng"] },
            approvers: { groups: ["sec"] },
            maxDurationMinutes: 60,
          },
        ],
      }),
      notify: () => {},
      routes: () => undefined,
    });
    cleanups.push(() => jit.close());
    // The gateway side holds no store: only hot state and its cache. A long maxAge shows the
    // invalidation comes from the publish, not from the periodic re-read.
    const gateway = await createGrantCache({ hotState: replica, clock: systemClock, maxAgeMs: 60_000 });
    cleanups.push(() => gateway.close());

    const alice = person("okta:alice", ["eng"]);
    expect(await gateway.activeGrants(alice.subject)).toEqual([]); // cached "no grant"
    const req = await jit.request(alice, {
      role: "operator",
      scope: { kind: "environment", id: "staging" },
      justification: "deploy",
      durationMinutes: 30,
    });
    const { grantId } = await jit.approve(person("okta:bob", ["sec"]), req.id);
    await eventually(async () => expect(await gateway.activeGrants(alice.subject)).toHaveLength(1), 1000);

    const started = performance.now();
    await jit.revokeGrant(grantId as string, { kind: "system", id: "t" });
    await eventually(async () => expect(await gateway.activeGrants(alice.subject)).toEqual([]), 1000);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("without any message, a replica re-reads its cache within maxAge", async () => {
    const prefix = `test:jit:${randomUUID()}:`;
    const url = inject("redisUrl");
    const writer = createRedisHotState({ url, keyPrefix: prefix });
    const reader = createRedisHotState({ url, keyPrefix: prefix });
    cleanups.push(
      () => writer.close(),
      () => reader.close(),
    );
    const clock = manualClock("2026-11-23T10:00:00Z");
    const cache = await createGrantCache({ hotState: reader, clock, maxAgeMs: 1000 });
    cleanups.push(() => cache.close());
    expect(await cache.activeGrants("s")).toEqual([]);
    // Written behind the cache's back: no publish.
    await writer.set(
      "jit:grants:s",
      JSON.stringify([
        { grantId: "g", role: "r", scope: { kind: "route", id: "x" }, ends: Date.now() + 60_000 },
      ]),
    );
    clock.advance(999);
    expect(await cache.activeGrants("s", new Date())).toEqual([]);
    clock.advance(1);
    expect(await cache.activeGrants("s", new Date())).toHaveLength(1);
  });
});

describe("grant record in hot state", () => {
  const grant = (grantId: string, ends: string) => ({
    grantId,
    role: "operator",
    scope: { kind: "route" as const, id: "grafana" },
    ends: new Date(ends),
  });

  async function setup(): Promise<{ hs: HotState; clock: ReturnType<typeof manualClock> }> {
    const clock = manualClock("2026-11-23T10:00:00Z");
    const hs = createMemoryHotState({ clock });
    cleanups.push(() => hs.close());
    return { hs, clock };
  }

  test("lives until its last grant ends, and each grant stops at its own end", async () => {
    const { hs, clock } = await setup();
    await publishGrant(hs, clock, "s", grant("a", "2026-11-23T10:30:00Z"));
    await publishGrant(hs, clock, "s", grant("b", "2026-11-23T11:00:00Z"));
    expect(await hs.ttl("jit:grants:s")).toBe(60 * 60_000);
    const cache = await createGrantCache({ hotState: hs, clock });
    cleanups.push(() => cache.close());
    expect((await cache.activeGrants("s")).map((g) => g.grantId)).toEqual(["a", "b"]);
    clock.set("2026-11-23T10:30:00Z");
    expect((await cache.activeGrants("s")).map((g) => g.grantId)).toEqual(["b"]);
    clock.set("2026-11-23T11:00:00Z");
    expect(await cache.activeGrants("s")).toEqual([]);
    expect(await hs.get("jit:grants:s")).toBeNull();
  });

  test("concurrent writers for one subject keep every grant; withdrawing the last deletes the record", async () => {
    const { hs, clock } = await setup();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        publishGrant(hs, clock, "s", grant(`g${i}`, "2026-11-23T11:00:00Z")),
      ),
    );
    const cache = await createGrantCache({ hotState: hs, clock });
    cleanups.push(() => cache.close());
    expect(await cache.activeGrants("s")).toHaveLength(10);
    await withdrawGrants(
      hs,
      clock,
      "s",
      Array.from({ length: 10 }, (_, i) => `g${i}`),
    );
    expect(await hs.get("jit:grants:s")).toBeNull();
    await eventually(async () => expect(await cache.activeGrants("s")).toEqual([]));
  });
});

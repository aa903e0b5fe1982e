// Route lockdowns on in-process hot state with a manual clock: who a lockdown admits by address,
// which credentials count as single sign-on, expiry, replace, lift, bad input, and a watcher that
// follows changes and keeps its list when hot state fails.
import { describe, expect, test } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { createMemoryHotState } from "../../platform/hotstate/index.ts";
import { parseRanges } from "./ip-rules.ts";
import {
  createLockdowns,
  lockdownAdmitsAddress,
  lockdownAdmitsCredential,
  type LockdownInForce,
  watchLockdowns,
} from "./lockdown.ts";

const setup = async () => {
  const clock = manualClock("2026-11-22T10:00:00Z");
  const hot = createMemoryHotState({ clock });
  const lockdowns = createLockdowns(hot, { clock });
  const watch = await watchLockdowns(hot, { clock, refreshMs: 60_000 });
  return { clock, hot, lockdowns, watch };
};

describe("route lockdowns", () => {
  test("a lockdown holds on its route only, until it expires", async () => {
    const { clock, lockdowns, watch } = await setup();
    const added = await lockdowns.add({ route: "*/admin", ttlSeconds: 600, reason: "INC-7", by: "ops" });
    expect(added).toMatchObject({
      route: "*/admin",
      allow: [],
      reason: "INC-7",
      by: "ops",
      createdAt: "2026-11-22T10:00:00.000Z",
      expiresAt: "2026-11-22T10:10:00.000Z",
    });
    await watch.refresh();
    expect(watch.lockdown("*/admin")?.lockdown.reason).toBe("INC-7");
    expect(watch.lockdown("*/")).toBeUndefined();
    clock.advance(600_000);
    expect(watch.lockdown("*/admin")).toBeUndefined();
    expect(await lockdowns.list()).toEqual([]);
    await watch.close();
  });

  test("locking again replaces the lockdown; lifting it ends it at once", async () => {
    const { lockdowns, watch } = await setup();
    await lockdowns.add({ route: "grafana", ttlSeconds: 60, reason: "first", by: "ops" });
    await lockdowns.add({
      route: "grafana",
      ttlSeconds: 3600,
      reason: "second",
      by: "ops",
      allow: ["10.1.2.3/8", "::ffff:192.0.2.1", "10.0.0.0/8"],
    });
    const [only, ...rest] = await lockdowns.list();
    expect(rest).toEqual([]);
    // Normalized and without duplicates.
    expect(only).toMatchObject({ reason: "second", allow: ["10.0.0.0/8", "192.0.2.1"] });
    expect((await lockdowns.remove("grafana")).reason).toBe("second");
    await watch.refresh();
    expect(watch.lockdown("grafana")).toBeUndefined();
    await expect(lockdowns.remove("grafana")).rejects.toThrow(/no lockdown on grafana/);
    await watch.close();
  });

  test("bad input is refused with the field named, and nothing stored changes", async () => {
    const { lockdowns } = await setup();
    await lockdowns.add({ route: "keep", ttlSeconds: 60, reason: "x", by: "ops" });
    const add = (l: { route?: string; ttlSeconds?: number; allow?: string[] }) =>
      lockdowns.add({ route: "r", ttlSeconds: 60, reason: "x", by: "ops", ...l });
    for (const ttlSeconds of [0, -1, 2.5, 31 * 86_400])
      await expect(add({ ttlSeconds })).rejects.toThrow(/ttlSeconds/);
    for (const route of ["", "a b", "x\ny", "r".repeat(513)])
      await expect(add({ route })).rejects.toThrow(/route/);
    await expect(add({ allow: ["example.com"] })).rejects.toThrow(/expected an IP address/);
    await expect(add({ allow: ["country:RU"] })).rejects.toThrow(/allow.*IP addresses or CIDR ranges/);
    await expect(add({ allow: Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`) })).rejects.toThrow(
      /allow/,
    );
    expect((await lockdowns.list()).map((l) => l.route)).toEqual(["keep"]);
  });

  test("a change is announced, and a watcher keeps its last list while hot state is down", async () => {
    const { hot, lockdowns, watch } = await setup();
    await lockdowns.add({ route: "*/", ttlSeconds: 60, reason: "x", by: "ops" });
    await expect.poll(() => watch.lockdown("*/")).toBeDefined();
    await hot.close();
    await watch.refresh();
    expect(watch.lockdown("*/")).toBeDefined();
    await watch.close();
  });
});

describe("who a lockdown admits", () => {
  const inForce = async (allow?: string[]): Promise<LockdownInForce> => {
    const { lockdowns, watch } = await setup();
    await lockdowns.add({ route: "r", ttlSeconds: 60, reason: "x", by: "ops", allow });
    await watch.refresh();
    const l = watch.lockdown("r") as LockdownInForce;
    await watch.close();
    return l;
  };

  test("its own allow list wins over the configured one", async () => {
    const l = await inForce(["192.0.2.0/24", "2001:db8::1"]);
    const configured = parseRanges(["10.0.0.0/8"]);
    expect(lockdownAdmitsAddress(l, "192.0.2.77", configured)).toBe(true);
    expect(lockdownAdmitsAddress(l, "::ffff:192.0.2.77", configured)).toBe(true);
    expect(lockdownAdmitsAddress(l, "2001:db8::1", configured)).toBe(true);
    expect(lockdownAdmitsAddress(l, "10.1.1.1", configured)).toBe(false);
    expect(lockdownAdmitsAddress(l, "unknown", configured)).toBe(false);
  });

  test("without one, the configured ipRules.allow decides; with neither, no one gets in", async () => {
    const l = await inForce();
    expect(lockdownAdmitsAddress(l, "10.1.1.1", parseRanges(["10.0.0.0/8"]))).toBe(true);
    expect(lockdownAdmitsAddress(l, "192.0.2.1", parseRanges(["10.0.0.0/8"]))).toBe(false);
    expect(lockdownAdmitsAddress(l, "127.0.0.1", [])).toBe(false);
  });

  test("sessions and access tokens count as single sign-on; keys and certificates do not", () => {
    expect(lockdownAdmitsCredential("session")).toBe(true);
    expect(lockdownAdmitsCredential("access-token")).toBe(true);
    expect(lockdownAdmitsCredential("api-key")).toBe(false);
    expect(lockdownAdmitsCredential("client-certificate")).toBe(false);
    expect(lockdownAdmitsCredential(undefined)).toBe(false);
  });
});

// Dynamic blocks on in-process hot state with a manual clock: targets normalized, expiry, replace,
// lift, country blocks over the bundled database, and a watcher that follows changes and keeps its
// list when hot state fails.
import { describe, expect, test } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { createMemoryHotState } from "../../platform/hotstate/index.ts";
import { createBlockList, normalizeTarget, watchBlocks } from "./blocks.ts";
import { openCountryLookup } from "./geo.ts";

describe("block targets", () => {
  test("addresses and ranges are stored in one canonical form", () => {
    expect(normalizeTarget("203.0.113.7")).toBe("203.0.113.7");
    expect(normalizeTarget("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(normalizeTarget("2001:DB8:0:0::1")).toBe("2001:db8::1");
    expect(normalizeTarget("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(normalizeTarget("2001:db8:ffff::/32")).toBe("2001:db8::/32");
    expect(normalizeTarget("::ffff:203.0.113.0/120")).toBe("203.0.113.0/24");
    expect(normalizeTarget("country:ru")).toBe("country:RU");
    expect(normalizeTarget("COUNTRY:Nz")).toBe("country:NZ");
  });

  test("anything else is refused with the field named", () => {
    for (const bad of ["", "example.com", "300.1.1.1", "10.0.0.0/33", "1.2.3.4; DROP"])
      expect(() => normalizeTarget(bad)).toThrow(/target.*expected an IP address|expected an IP address/);
    for (const bad of ["country:", "country:RUS", "country:R1", "country:*"])
      expect(() => normalizeTarget(bad)).toThrow(/expected country:XX with an ISO 3166-1 alpha-2 code/);
  });
});

describe("block list", () => {
  const setup = async () => {
    const clock = manualClock("2026-11-22T10:00:00Z");
    const hot = createMemoryHotState({ clock });
    const list = createBlockList(hot, { clock });
    const watch = await watchBlocks(hot, { clock, refreshMs: 60_000 });
    return { clock, hot, list, watch };
  };

  test("a block covers its address or range until it expires", async () => {
    const { clock, list, watch } = await setup();
    await list.add({ target: "198.51.100.9", ttlSeconds: 60, reason: "credential stuffing", by: "ops" });
    await list.add({ target: "2001:db8::/32", ttlSeconds: 120, reason: "scanner", by: "ops" });
    await watch.refresh();
    expect(watch.blocking("198.51.100.9")?.reason).toBe("credential stuffing");
    expect(watch.blocking("198.51.100.10")).toBeUndefined();
    expect(watch.blocking("2001:db8:1::5")?.target).toBe("2001:db8::/32");
    clock.advance(61_000);
    expect(watch.blocking("198.51.100.9")).toBeUndefined();
    expect(watch.blocking("2001:db8:1::5")).toBeDefined();
    expect((await list.list()).map((b) => b.target)).toEqual(["2001:db8::/32"]);
    await watch.close();
  });

  test("setting a block again replaces its expiry; lifting it ends it at once", async () => {
    const { clock, list, watch } = await setup();
    await list.add({ target: "198.51.100.9", ttlSeconds: 10, reason: "first", by: "ops" });
    const again = await list.add({ target: "198.51.100.9", ttlSeconds: 600, reason: "second", by: "ops" });
    expect(again.expiresAt).toBe("2026-11-22T10:10:00.000Z");
    expect(await list.list()).toHaveLength(1);
    clock.advance(30_000);
    await watch.refresh();
    expect(watch.blocking("198.51.100.9")?.reason).toBe("second");
    expect((await list.remove("198.51.100.9")).reason).toBe("second");
    await watch.refresh();
    expect(watch.blocking("198.51.100.9")).toBeUndefined();
    await expect(list.remove("198.51.100.9")).rejects.toThrow(/no block on 198.51.100.9/);
    await watch.close();
  });

  test("bad durations are refused and nothing stored changes", async () => {
    const { list } = await setup();
    await list.add({ target: "198.51.100.9", ttlSeconds: 60, reason: "keep", by: "ops" });
    for (const ttlSeconds of [0, -5, 1.5, 10 * 365 * 86_400])
      await expect(list.add({ target: "198.51.100.1", ttlSeconds, reason: "x", by: "ops" })).rejects.toThrow(
        /ttlSeconds/,
      );
    expect((await list.list()).map((b) => b.target)).toEqual(["198.51.100.9"]);
  });

  test("a change is announced, and a watcher keeps its last list while hot state is down", async () => {
    const { hot, list, watch } = await setup();
    await list.add({ target: "198.51.100.9", ttlSeconds: 60, reason: "x", by: "ops" });
    // The announcement triggers a re-read without waiting for the interval.
    await expect.poll(() => watch.blocking("198.51.100.9")).toBeDefined();
    await hot.close();
    await watch.refresh();
    expect(watch.blocking("198.51.100.9")).toBeDefined();
    await watch.close();
  });
});

describe("country blocks", () => {
  const setup = async (openCountries?: () => Promise<never>) => {
    const clock = manualClock("2026-11-22T10:00:00Z");
    const hot = createMemoryHotState({ clock });
    const list = createBlockList(hot, { clock });
    let opened = 0;
    const watch = await watchBlocks(hot, {
      clock,
      refreshMs: 60_000,
      openCountries:
        openCountries ??
        (() => {
          opened++;
          return openCountryLookup();
        }),
    });
    return { clock, list, watch, opened: () => opened };
  };

  test("the country database opens only once a country is blocked, before the block applies", async () => {
    const { clock, list, watch, opened } = await setup();
    await list.add({ target: "198.51.100.9", ttlSeconds: 60, reason: "x", by: "ops" });
    await watch.refresh();
    expect(opened()).toBe(0);
    expect(watch.blocksCountries()).toBe(false);
    expect(watch.countryLookup()).toBeUndefined();

    await list.add({ target: "country:nz", ttlSeconds: 60, reason: "INC-9", by: "ops" });
    await watch.refresh();
    expect(watch.blocksCountries()).toBe(true);
    const nz = watch.countryLookup()?.country("202.36.0.1");
    expect(nz).toBe("NZ");
    expect(watch.blockingCountry(nz)?.reason).toBe("INC-9");
    expect(watch.blockingCountry("IS")).toBeUndefined();
    expect(watch.blockingCountry(undefined)).toBeUndefined();
    // A country block is not an address block.
    expect(watch.blocking("202.36.0.1")).toBeUndefined();
    clock.advance(61_000);
    expect(watch.blockingCountry("NZ")).toBeUndefined();
    await watch.refresh();
    expect(watch.blocksCountries()).toBe(false);
    expect(opened()).toBe(1);
    await watch.close();
  });

  test("country:EU blocks each member state; lifting it ends that", async () => {
    const { list, watch } = await setup();
    await list.add({ target: "country:EU", ttlSeconds: 60, reason: "x", by: "ops" });
    await watch.refresh();
    expect(watch.blockingCountry("DE")?.target).toBe("country:EU");
    expect(watch.blockingCountry("FR")?.target).toBe("country:EU");
    expect(watch.blockingCountry("GB")).toBeUndefined();
    await list.remove("country:eu");
    await watch.refresh();
    expect(watch.blockingCountry("DE")).toBeUndefined();
    await watch.close();
  });

  test("a country database that fails to open leaves address blocks in force", async () => {
    const { list, watch } = await setup(() => Promise.reject(new Error("ENOENT")));
    await list.add({ target: "country:NZ", ttlSeconds: 60, reason: "x", by: "ops" });
    await list.add({ target: "198.51.100.9", ttlSeconds: 60, reason: "x", by: "ops" });
    await watch.refresh();
    expect(watch.blocking("198.51.100.9")).toBeDefined();
    expect(watch.blocksCountries()).toBe(false);
    await watch.close();
  });
});

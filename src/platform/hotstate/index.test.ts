import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { manualClock } from "../clock.ts";
import { Invalid } from "../errors.ts";
import { createHotState } from "./index.ts";

describe("createHotState", () => {
  it("uses memory without a Redis URL, with the given clock", async () => {
    const clock = manualClock();
    const hs = createHotState({}, { clock });
    await hs.set("k", "v", { ttlMs: 100 });
    clock.advance(100);
    expect(await hs.get("k")).toBeNull();
    await hs.close();
  });

  it("uses Redis when a URL is configured", async () => {
    const url = inject("redisUrl");
    const keyPrefix = `test:hotstate:index:${randomUUID()}:`;
    const hs = createHotState({ redisUrl: url, keyPrefix });
    await hs.set("k", "v", { ttlMs: 10_000 });
    const raw = new Redis(url);
    expect(await raw.get(`${keyPrefix}k`)).toBe("v");
    await raw.quit();
    await hs.close();
  });

  it("rejects a URL that is not redis:// without echoing it (it may hold a password)", () => {
    let err: unknown;
    try {
      createHotState({ redisUrl: "http://admin:hunter2@cache:6379" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Invalid);
    expect((err as Error).message).not.toContain("hunter2");
  });
});

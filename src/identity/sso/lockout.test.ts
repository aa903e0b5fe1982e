import { describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { createMemoryHotState } from "../../platform/hotstate/index.ts";
import { TooManyAttempts } from "./errors.ts";
import { createLockout } from "./lockout.ts";

describe("login lockout", () => {
  it("locks an IP after repeated failures, doubling the lock with each further failure", async () => {
    const clock = manualClock();
    const lockout = createLockout(createMemoryHotState({ clock }), { maxFailures: 3, baseLockMs: 1000 });
    const retryAfter = () =>
      lockout.check("192.0.2.1").then(
        () => 0,
        (e: unknown) => (e as TooManyAttempts).retryAfterS,
      );
    await lockout.failed("192.0.2.1");
    await lockout.failed("192.0.2.1");
    expect(await retryAfter()).toBe(0);
    await lockout.failed("192.0.2.1");
    expect(await retryAfter()).toBe(1);
    await expect(lockout.check("192.0.2.2")).resolves.toBeUndefined();
    clock.advance(1000);
    expect(await retryAfter()).toBe(0);
    await lockout.failed("192.0.2.1");
    expect(await retryAfter()).toBe(2);
    clock.advance(2000);
    await lockout.failed("192.0.2.1");
    expect(await retryAfter()).toBe(4);
    await expect(lockout.check("192.0.2.1")).rejects.toBeInstanceOf(TooManyAttempts);
  });

  it("forgets failures after a successful login", async () => {
    const lockout = createLockout(createMemoryHotState(), { maxFailures: 2 });
    await lockout.failed("192.0.2.1");
    await lockout.succeeded("192.0.2.1");
    await lockout.failed("192.0.2.1");
    await expect(lockout.check("192.0.2.1")).resolves.toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { canMove, isClosed, isManual, nextStates, requestStates } from "./states.ts";

describe("request life cycle", () => {
  it("never skips verification and never leaves a closed state", () => {
    expect(canMove("verifying", "approved")).toBe(false);
    expect(canMove("verifying", "processing")).toBe(false);
    expect(canMove("received", "processing")).toBe(false);
    for (const s of requestStates) if (isClosed(s)) expect(nextStates(s)).toEqual([]);
  });

  it("retries a failed run and routes objections, withdrawals and grievances to a person", () => {
    expect(canMove("failed", "processing")).toBe(true);
    expect(["objection", "withdrawal", "grievance"].every((k) => isManual(k as never))).toBe(true);
    expect(isManual("erasure")).toBe(false);
  });
});

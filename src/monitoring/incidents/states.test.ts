// Every move of the incident life cycle, allowed and refused.
import { describe, expect, test } from "vitest";
import { canMove, type IncidentState, incidentStates, nextStates } from "./states.ts";

const allowed: Record<IncidentState, IncidentState[]> = {
  detected: ["triaged", "contained", "eradicated", "recovered"],
  triaged: ["contained", "eradicated", "recovered"],
  contained: ["eradicated", "recovered"],
  eradicated: ["contained", "recovered"],
  recovered: ["contained", "closed"],
  closed: ["triaged"],
};

describe("incident life cycle", () => {
  for (const from of incidentStates)
    for (const to of incidentStates) {
      const ok = allowed[from].includes(to);
      test(`${from} → ${to} is ${ok ? "allowed" : "refused"}`, () => {
        expect(canMove(from, to)).toBe(ok);
      });
    }

  test("next states are listed in life-cycle order, loop back first", () => {
    expect(nextStates("eradicated")).toEqual(["contained", "recovered"]);
    expect(nextStates("detected")).toEqual(allowed.detected);
  });
});

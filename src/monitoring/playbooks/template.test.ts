// Templates pull values from the trigger context and nothing else: paths, defaults, no code.
import { describe, expect, test } from "vitest";
import { Invalid } from "../../platform/errors.ts";
import { lookup, resolveString, resolveValue, templateProblem, truthy } from "./template.ts";

const ctx = {
  inputs: { ip: "203.0.113.7", kinds: ["dpdp-72h"], empty: "" },
  detection: { group: { credential: "k3j8abcd", "odd-key": "x" }, entities: [{ kind: "ip", id: "1.2.3.4" }] },
};

describe("resolution", () => {
  test("a whole expression keeps its type; inside text it is interpolated", () => {
    expect(resolveString("{{ inputs.kinds }}", ctx, "w")).toEqual(["dpdp-72h"]);
    expect(resolveString("block {{inputs.ip}} now", ctx, "w")).toBe("block 203.0.113.7 now");
    expect(resolveString("{{ detection.entities.0.id }}", ctx, "w")).toBe("1.2.3.4");
    expect(resolveString("{{ detection.group.odd-key }}", ctx, "w")).toBe("x");
    expect(resolveString("no template", ctx, "w")).toBe("no template");
  });

  test("a default stands in for a missing or empty value", () => {
    expect(resolveString("{{ inputs.missing | default: 24h }}", ctx, "w")).toBe("24h");
    expect(resolveString("{{ inputs.empty | default: none }}", ctx, "w")).toBe("none");
    expect(resolveString("at {{ inputs.missing | default: two words }}.", ctx, "w")).toBe("at two words.");
  });

  test("a missing value without a default is a clear error naming the path and where", () => {
    let err: unknown;
    try {
      resolveString("{{ inputs.credential }}", ctx, "steps.revoke.with.id");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Invalid);
    expect((err as Error).message).toBe(
      "steps.revoke.with.id: {{ inputs.credential }} has no value (give the input, or a default)",
    );
    expect(resolveString("{{ inputs.credential }}", ctx, "w", true)).toBeUndefined();
  });

  test("objects and arrays are walked; an empty default leaves an optional key out", () => {
    expect(
      resolveValue(
        { query: { actor: "{{ inputs.actor | default: }}", since: "24h" }, n: 3, list: ["{{ inputs.ip }}"] },
        ctx,
        "with",
      ),
    ).toEqual({ query: { since: "24h" }, n: 3, list: ["203.0.113.7"] });
  });

  test("prototypes and code are out of reach", () => {
    expect(lookup(ctx, "inputs.__proto__")).toBeUndefined();
    expect(lookup(ctx, "inputs.constructor.name")).toBeUndefined();
    expect(lookup(ctx, "inputs.ip.length")).toBeUndefined();
    expect(templateProblem("{{ inputs.ip | upper }}")).toMatch(/a template is/);
    expect(templateProblem("{{ process.exit() }}")).toMatch(/a template is/);
    expect(templateProblem("{{ inputs.ip ")).toMatch(/unbalanced/);
    expect(() => resolveString("{{ a[0] }}", ctx, "w")).toThrow(Invalid);
  });
});

test("truthiness for `when`", () => {
  for (const v of [undefined, null, "", "false", "No", "0", "off", false, 0, []])
    expect(truthy(v)).toBe(false);
  for (const v of ["203.0.113.7", "yes", true, 1, ["x"], { a: 1 }]) expect(truthy(v)).toBe(true);
});

// How the gateway reads a request path before routing it: one canonical form, so an upstream that
// normalizes paths never sees a different path from the one the route was chosen by.
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { canonicalTarget, compileRoutes, createRouter } from "./routes.ts";
import { routeConfigSchema } from "../../config/index.ts";

describe("canonical request targets", () => {
  test("ordinary paths and queries pass unchanged", () => {
    for (const t of ["/", "/shop/cart?id=1", "/.well-known/acme-challenge/x", "/a/b.c/d..e", "/q?x=/../y"])
      expect(canonicalTarget(t)).toBe(t);
  });

  test("encoded unreserved characters are decoded and repeated slashes merged", () => {
    expect(canonicalTarget("/%61dmin/users")).toBe("/admin/users");
    expect(canonicalTarget("//admin//users?x=1")).toBe("/admin/users?x=1");
    expect(canonicalTarget("/a%7e%2D%5F")).toBe("/a~-_");
    // Reserved characters stay encoded, in one spelling.
    expect(canonicalTarget("/blocks/2001:db8::%2f32")).toBe("/blocks/2001:db8::%2F32");
    expect(canonicalTarget("/files/a%20b")).toBe("/files/a%20b");
  });

  test("dot segments and backslashes are refused, however spelled", () => {
    for (const t of [
      "/x/../admin",
      "/x/./admin",
      "/admin/..",
      "/%2e%2e/admin",
      "/x/%2E./admin",
      "/x%2F..%2Fadmin",
      "/x%5C..%5Cadmin",
      "/x\\..\\admin",
      "/..",
    ])
      expect(canonicalTarget(t), t).toBeUndefined();
  });

  test("a canonical target is its own canonical form, with no empty or dot segment", () => {
    const segment = fc.oneof(
      fc.constantFrom(".", "..", "", "%2e", "%2E%2e", "%2f", "%5c", "%61", "a", "A", "~"),
      fc.string({ unit: "grapheme-ascii", maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (parts) => {
        const c = canonicalTarget(`/${parts.join("/")}`);
        if (c === undefined) return;
        expect(canonicalTarget(c)).toBe(c);
        const path = c.split("?")[0] as string;
        expect(path).not.toMatch(/\/\//);
        expect(path.split(/\/|%2F|%5C/).some((s) => s === "." || s === "..")).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});

test("route prefixes match without regard to case", () => {
  const routes = compileRoutes(
    ["/admin", "/"].map((path) => routeConfigSchema.parse({ path, upstream: "http://127.0.0.1:9" })),
  );
  const route = createRouter(routes);
  expect(route("x", "/ADMIN/users")?.path).toBe("/admin");
  expect(route("x", "/Admin")?.path).toBe("/admin");
  expect(route("x", "/administrator")?.path).toBe("/");
});

import { describe, expect, test } from "vitest";
import { securityHeadersSchema } from "../../config/schema.ts";
import { compileSecurityHeaders } from "./security-headers.ts";

describe("security headers", () => {
  test("HSTS goes only in the HTTPS set, with the configured directives", () => {
    const set = compileSecurityHeaders(securityHeadersSchema.parse({ hstsPreload: true }));
    expect(set.http.map(([n]) => n)).not.toContain("strict-transport-security");
    expect(Object.fromEntries(set.https)["strict-transport-security"]).toBe(
      "max-age=31536000; includeSubDomains; preload",
    );
    const off = compileSecurityHeaders(securityHeadersSchema.parse({ hstsMaxAge: 0 }));
    expect(off.https.map(([n]) => n)).not.toContain("strict-transport-security");
  });

  test("frame-ancestors lists origins and keywords; other origins get no X-Frame-Options", () => {
    const set = compileSecurityHeaders(
      securityHeadersSchema.parse({
        frameAncestors: ["self", "https://portal.example.com"],
        permissionsPolicy: "",
      }),
    );
    const h = Object.fromEntries(set.http);
    expect(h["content-security-policy"]).toBe("frame-ancestors 'self' https://portal.example.com");
    expect(h["x-frame-options"]).toBeUndefined();
    expect(h["permissions-policy"]).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { Invalid } from "../../platform/errors.ts";
import { safeReturnTo } from "./return-to.ts";

const origin = "https://app.example.com";

describe("safeReturnTo", () => {
  it("keeps paths, queries and fragments on this site", () => {
    expect(safeReturnTo(undefined, origin)).toBe("/");
    expect(safeReturnTo("", origin)).toBe("/");
    expect(safeReturnTo("/a/b?c=d#e", origin)).toBe("/a/b?c=d#e");
    expect(safeReturnTo("https://app.example.com/x?y=1", origin)).toBe("/x?y=1");
    expect(safeReturnTo("/%2F%2Fevil.com", origin)).toBe("/%2F%2Fevil.com");
    expect(safeReturnTo("/a/../b", origin)).toBe("/b");
  });

  it.each([
    "//evil.com",
    "//evil.com/path",
    "/\\evil.com",
    "\\/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    "https://evil.com",
    "HTTPS://evil.com",
    "https:evil.com",
    "http://app.example.com/",
    "https://app.example.com.evil.com/",
    "https://app.example.com@evil.com/",
    "javascript:alert(1)",
    "data:text/html,hi",
    "evil.com",
    "///evil.com",
    "/.//evil.com",
  ])("refuses %j", (returnTo) => {
    expect(() => safeReturnTo(returnTo, origin)).toThrow(Invalid);
  });
});

// Secret paths, listing prefixes and value maps: what is accepted, and errors that say where and why.
import { describe, expect, test } from "vitest";
import { MAX_SECRET_BYTES, secretData, secretPath, secretPrefix } from "./paths.ts";

describe("secret paths", () => {
  test.each(["/prod/api/db", "/dev/web-1/API_KEY", "/p/s/n.v2", `/${"a".repeat(128)}/s/n`])(
    "accepts %s",
    (p) => {
      expect(secretPath(p)).toBe(p);
    },
  );

  test.each([
    ["prod/api/db", "expected /{environment}/{service}/{name}"],
    ["/prod/api", "expected /{environment}/{service}/{name}"],
    ["/prod/api/db/x", "expected /{environment}/{service}/{name}"],
    ["/prod//db", "the service segment"],
    ["/prod/../db", "the service segment"],
    ["/-x/api/db", "the environment segment"],
    ["/prod/api/db ", "the name segment"],
    [`/${"a".repeat(129)}/s/n`, "the environment segment"],
  ])("refuses %j", (p, message) => {
    expect(() => secretPath(p)).toThrow(message);
    expect(() => secretPath(p)).toThrow(expect.objectContaining({ where: "path" }));
  });

  test("prefixes: the root, an environment or a service", () => {
    expect(secretPrefix("/")).toBe("/");
    expect(secretPrefix("/prod")).toBe("/prod/");
    expect(secretPrefix("/prod/api/")).toBe("/prod/api/");
    expect(() => secretPrefix("/prod/api/db/")).toThrow("at most an environment and a service");
    expect(() => secretPrefix("prod/")).toThrow("expected a prefix");
  });
});

describe("secret values", () => {
  test("accepts a map of strings", () => {
    expect(secretData({ password: "x", _user: "app", "tls.crt": "-----BEGIN" })).toEqual({
      password: "x",
      _user: "app",
      "tls.crt": "-----BEGIN",
    });
  });

  test.each([
    [[], "data", "expected an object"],
    [{}, "data", "at least one key"],
    [{ "1abc": "x" }, "data", 'key "1abc" must start with'],
    [{ port: 5432 }, "data.port", "must be a string"],
    [{ blob: "x".repeat(64 * 1024 + 1) }, "data.blob", "more than 65536"],
  ])("refuses %#", (data, where, message) => {
    expect(() => secretData(data)).toThrow(message);
    expect(() => secretData(data)).toThrow(expect.objectContaining({ where }));
  });

  test("a secret over 1 MiB in total is refused, and the error never quotes a value", () => {
    const data = Object.fromEntries(
      Array.from({ length: 17 }, (_, i) => [`k${i}`, `${"v".repeat(64 * 1024 - 10)}${i}`]),
    );
    let message = "";
    try {
      secretData(data);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`more than ${MAX_SECRET_BYTES}`);
    expect(message).not.toContain("vvvv");
  });
});

// The WAF as the gateway will call it: whole requests through the built-in detectors.
import { describe, expect, test } from "vitest";
import { createBuiltInWaf, type InspectedRequest, type WafPolicy } from "./index.ts";

const waf = createBuiltInWaf();
const pl1: WafPolicy = { mode: "block", paranoia: 1, threshold: 5, exclusions: [] };
const json = (body: unknown): InspectedRequest => ({
  method: "POST",
  path: "/api/profile",
  headers: { host: "shop", "content-type": "application/json", "user-agent": "Mozilla/5.0" },
  body: Buffer.from(JSON.stringify(body)),
});

test("an injection nested in JSON is found and named by its path", () => {
  const v = waf.inspect(json({ user: { name: "x' OR '1'='1" } }), pl1);
  expect(v.blocked).toBe(true);
  expect(v.matches[0]).toMatchObject({ rule: "sqli-tautology", target: "ARGS_JSON:user.name" });
});

test("a double-encoded UNION in the query is decoded before it is judged", () => {
  const v = waf.inspect(
    { method: "GET", path: "/p?id=1%2520UNION%2520SELECT%2520password%2520FROM%2520users", headers: {} },
    pl1,
  );
  expect(v.matches.map((m) => m.rule)).toContain("sqli-union");
});

test("a script tag hidden by entities and encoding in a form field is found", () => {
  const v = waf.inspect(
    {
      method: "POST",
      path: "/comment",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: Buffer.from("text=%26lt%3Bimg%20src%3Dx%20onerror%3Dalert(1)%26gt%3B"),
    },
    pl1,
  );
  expect(v.blocked).toBe(true);
  expect(v.matches.map((m) => m.rule)).toContain("xss-event-handler");
});

test("traversal and command injection are found in the path and in arguments", () => {
  const rules = (path: string) =>
    waf.inspect({ method: "GET", path, headers: {} }, pl1).matches.map((m) => m.rule);
  expect(rules("/download?file=..%2f..%2f..%2fetc%2fpasswd")).toEqual(
    expect.arrayContaining(["lfi-dot-dot", "lfi-sensitive-file"]),
  );
  expect(rules("/ping?host=127.0.0.1%3Bcat%20/etc/passwd")).toContain("cmdi-separator-command");
});

test("ordinary requests with SQL-looking words pass at paranoia level 1", () => {
  for (const name of ["O'Brien", "Select a size", "Tom & Jerry -- the movie", "1-2-3"])
    expect(waf.inspect(json({ user: { name } }), pl1).score, name).toBe(0);
  for (const bio of [
    "x < y and y > z",
    "I <3 cats",
    "a <b>bold</b> claim",
    "R&D; Sales",
    "see version 1.2..3",
  ])
    expect(waf.inspect(json({ user: { bio } }), pl1).score, bio).toBe(0);
  const search = { method: "GET", path: "/search?q=union+select+committee+minutes&sort=price", headers: {} };
  expect(waf.inspect(search, pl1).score).toBe(0);
});

describe("cookie names", () => {
  // A cookie's name is attacker text too; it reaches every detector, decoded, as REQUEST_COOKIES_NAMES.
  const withCookie = (cookie: string): InspectedRequest => ({
    method: "GET",
    path: "/",
    headers: { host: "shop", cookie },
  });
  const rulesFor = (cookie: string) =>
    waf
      .inspect(withCookie(cookie), { mode: "block", paranoia: 1, threshold: 5, exclusions: [] })
      .matches.map((m) => `${m.rule}@${m.target}`);
  test.each([
    ["%3Cscript%3Ealert(1)%3C/script%3E=x", "xss-script-tag"],
    ["＜script ＞alert(1)＜/script＞=value", "xss-script-tag"],
    ["ja%26newline%3Bvascript%3A%20=1", "xss-js-url"],
    ["http://2852039166/=1", "ssrf-metadata"],
    ["<?php phpinfo(); ?>=1", "code-php"],
  ])("%s is caught as %s", (cookie, rule) => {
    expect(rulesFor(cookie).some((r) => r.startsWith(`${rule}@REQUEST_COOKIES_NAMES:`))).toBe(true);
  });
  test("plain names stay plain", () => {
    expect(rulesFor("session_id=abc123; theme=dark")).toEqual([]);
  });
});

// `rampart detect test` as a team runs it in CI, offline: a JSON-lines file of failed SSO logins
// (the shape the relying party emits: the caller's address as actor) trips failed-logins-per-account,
// `--expect` passes and `--expect-none` fails; nine of them fire nothing; a rules file's own rule is
// tested beside the built-ins; a malformed event line and a bad rule are reported with file and line.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { Detection } from "../src/monitoring/detect/index.ts";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { rampart } from "./support/cli.ts";

let work: string;
const run = (args: string[]) => rampart(["detect", "test", ...args], { cwd: work });

/** A failed SSO login as src/identity/sso/relying-party.ts emits it. */
const loginFailed = (ip: string, at: Date): SecurityEvent =>
  newEvent(
    {
      type: "identity.login_failed",
      actor: { kind: "ip", id: ip },
      severity: "low",
      outcome: "failure",
      data: { reason: "code_rejected", provider: "corp" },
    },
    at,
  );

const t0 = Date.parse("2026-03-02T09:00:00Z");
const lines = (events: SecurityEvent[]) => events.map((e) => JSON.stringify(e)).join("\n") + "\n";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rampart-cli-detect-"));
  // Ten failures from one address within five minutes (30 s apart), and one from elsewhere.
  const burst = Array.from({ length: 10 }, (_, i) => loginFailed("203.0.113.9", new Date(t0 + i * 30_000)));
  writeFileSync(join(work, "burst.jsonl"), lines([...burst, loginFailed("198.51.100.1", new Date(t0))]));
  // Ten failures, but spread over more than five minutes: no window holds ten.
  const slow = Array.from({ length: 10 }, (_, i) => loginFailed("203.0.113.9", new Date(t0 + i * 60_000)));
  writeFileSync(join(work, "slow.jsonl"), lines(slow));
  writeFileSync(
    join(work, "broken.jsonl"),
    `${JSON.stringify(burst[0])}\n\n${JSON.stringify({ ...burst[1], severity: "dire" })}\n{not json\n`,
  );
  writeFileSync(
    join(work, "rules.yaml"),
    `rules:
  - id: login-failures-quick
    title: Three failed logins from one address
    priority: P3
    match: { type: identity.login_failed, outcome: failure }
    groupBy: [actor.id]
    condition: { kind: count, threshold: 3, window: 2m }
`,
  );
  writeFileSync(
    join(work, "bad-rules.yaml"),
    `- id: fine-rule
  title: A fine rule
  priority: P3
  match: { type: identity.login_failed }
  condition: { kind: each }
- id: broken-rule
  title: Window too vague
  priority: P3
  match: { type: identity.login_failed }
  condition:
    kind: count
    threshold: 3
    window: soon
`,
  );
  writeFileSync(
    join(work, "rampart.yaml"),
    "version: 1\nenvironment: prod\ndetect:\n  disable: [failed-logins-per-account]\n",
  );
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

test("a burst of failed logins trips failed-logins-per-account; --expect passes and --expect-none fails", async () => {
  const [plain, none, json] = await Promise.all([
    run(["--events", "burst.jsonl", "--expect", "failed-logins-per-account"]),
    run(["--events", "burst.jsonl", "--expect-none"]),
    run(["--events", "burst.jsonl", "--json"]),
  ]);
  expect(plain.stderr).toBe("");
  expect(plain.code).toBe(0);
  // The detection fires at the tenth event's time: the clock follows the events.
  expect(plain.stdout).toMatch(
    /^ {2}2026-03-02 09:04:30 {2}failed-logins-per-account +P2 {2}actor=203\.0\.113\.9 actorKind=ip +10 failed logins from ip 203\.0\.113\.9 in 5 minutes$/m,
  );
  expect(plain.stdout).toMatch(/^1 detection from 11 events \(\d+ rules\)$/m);
  expect(none.code).toBe(1);
  expect(none.stderr).toContain("FAIL expected no detection; 1 fired (failed-logins-per-account)");

  const r = JSON.parse(json.stdout) as { ok: boolean; events: number; detections: Detection[] };
  expect(r.ok).toBe(true);
  expect(r.events).toBe(11);
  expect(r.detections).toEqual([
    expect.objectContaining({
      rule: "failed-logins-per-account",
      priority: "P2",
      count: 10,
      group: { actor: "203.0.113.9", actorKind: "ip" },
      firstAt: "2026-03-02T09:00:00.000Z",
      lastAt: "2026-03-02T09:04:30.000Z",
      firedAt: "2026-03-02T09:04:30.000Z",
    }),
  ]);
  expect(r.detections[0]?.events).toHaveLength(10);
});

test("failures spread wider than the window fire nothing, and --expect then fails", async () => {
  const [quiet, expected] = await Promise.all([
    run(["--events", "slow.jsonl", "--expect-none"]),
    run(["--events", "slow.jsonl", "--expect", "failed-logins-per-account"]),
  ]);
  expect(quiet.code).toBe(0);
  expect(quiet.stdout).toMatch(/^0 detections from 10 events/m);
  expect(expected.code).toBe(1);
  expect(expected.stderr).toContain("FAIL expected failed-logins-per-account to fire; it did not");
});

test("a rules file's rules run beside the config's; the config can switch a built-in off", async () => {
  const [withFile, onlyFile, withConfig, unknown] = await Promise.all([
    run([
      "--events",
      "burst.jsonl",
      "--rules",
      "rules.yaml",
      "--expect",
      "login-failures-quick",
      "--expect",
      "failed-logins-per-account",
    ]),
    run(["--events", "burst.jsonl", "--rules", "rules.yaml", "--no-builtin", "--json"]),
    run(["--events", "burst.jsonl", "-c", "rampart.yaml", "--expect-none"]),
    run(["--events", "burst.jsonl", "--expect", "no-such-rule"]),
  ]);
  expect(withFile.stderr).toBe("");
  expect(withFile.code).toBe(0);
  // Three within two minutes fire at 09:01; the window starts over and the group stays quiet for
  // the window (the default suppression), so the next fires at 09:03, and the last three are quiet.
  expect(withFile.stdout).toMatch(
    /^ {2}2026-03-02 09:01:00 {2}login-failures-quick +P3 {2}id=203\.0\.113\.9 /m,
  );
  expect(withFile.stdout.match(/login-failures-quick/g)).toHaveLength(2);
  const only = JSON.parse(onlyFile.stdout) as { rules: string[]; detections: Detection[] };
  expect(only.rules).toEqual(["login-failures-quick"]);
  expect(only.detections.map((d) => d.group)).toEqual(Array(2).fill({ id: "203.0.113.9" }));
  expect(withConfig.code).toBe(0);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain("--expect: no rule 'no-such-rule' among the rules in force");
});

test("a malformed event line and a bad rule are reported with their file and line", async () => {
  const [events, rules, missing] = await Promise.all([
    run(["--events", "broken.jsonl"]),
    run(["--events", "burst.jsonl", "--rules", "bad-rules.yaml"]),
    run(["--events", "nowhere.jsonl"]),
  ]);
  expect(events.code).toBe(2);
  expect(events.stdout).toBe("");
  expect(events.stderr).toContain("broken.jsonl:3:1 severity: ");
  expect(events.stderr).toMatch(/broken\.jsonl:4:1 not JSON/);
  expect(rules.code).toBe(2);
  expect(rules.stderr.trim()).toBe(
    "bad-rules.yaml:13:13 [1].condition.window: expected a duration such as 30s, 5m, 1h or 30d",
  );
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain("--events nowhere.jsonl: cannot read (ENOENT)");
});

// Playbook files as an author meets them: every mistake reported at its file:line:column with the
// key path, every shipped playbook valid, the loader's directory and override rules.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { ConfigError } from "../../config/errors.ts";
import { actionNames } from "./actions.ts";
import { loadPlaybooks, parsePlaybook, playbooksConfigSchema } from "./schema.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "rampart-playbooks-"));
  dirs.push(d);
  return d;
};

function issuesOf(text: string) {
  try {
    parsePlaybook(text, "pb.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
  }
  throw new Error("expected the playbook to be rejected");
}

const minimal = `id: t
title: T
steps:
  - id: a
    phase: contain
    title: A
    action: identity.revoke_api_key
    with: { id: "{{ inputs.key }}" }
`;

describe("schema errors name the line, column and key path", () => {
  test("a valid playbook parses with defaults", () => {
    const p = parsePlaybook(minimal, "pb.yaml");
    expect(p).toMatchObject({ id: "t", inputs: {}, steps: [{ id: "a", action: "identity.revoke_api_key" }] });
  });

  test("an unknown action, a bad phase and a bad deadline", () => {
    const issues = issuesOf(`id: t
title: T
steps:
  - id: a
    phase: containment
    title: A
    action: gateway.block_everything
  - id: b
    phase: contain
    title: B
    action: notify
    with: { text: hi }
    deadline: soon
`);
    expect(issues).toEqual([
      expect.stringMatching(/^5:12 steps\[0\]\.phase: .*contain/),
      expect.stringMatching(/^7:13 steps\[0\]\.action: /),
      expect.stringMatching(/^13:15 steps\[1\]\.deadline: expected a duration such as 90s, 15m, 24h or 7d$/),
    ]);
  });

  test("parameters the action does not take, and ones it needs", () => {
    expect(
      issuesOf(`id: t
title: T
steps:
  - id: a
    phase: contain
    title: A
    action: gateway.block_ip
    with:
      address: 203.0.113.7
      reason: r
`),
    ).toEqual([
      "9:7 steps[0].with: gateway.block_ip needs ip",
      "9:16 steps[0].with.address: gateway.block_ip takes ip, ttl, reason",
    ]);
  });

  test("manual and automated fields do not mix; step ids are unique; templates stay simple", () => {
    const issues = issuesOf(`id: t
title: T
steps:
  - id: a
    phase: contain
    title: A
    manual: true
    action: notify
  - id: a
    phase: recover
    title: B
    checklist: [x]
    action: notify
    with: { text: "{{ inputs.x | upper }}" }
  - id: c
    phase: recover
    title: C
`);
    expect(issues).toEqual([
      "8:13 steps[0].action: a manual step has no action",
      "9:9 steps[1].id: step id 'a' is used twice",
      "12:16 steps[1].checklist: a checklist needs manual: true",
      expect.stringMatching(/^14:19 steps\[1\]\.with\.text: a template is \{\{ path\.to\.value \}\}/),
      "15:5 steps[2].action: a step needs an action, or manual: true with a checklist",
    ]);
  });

  test("YAML syntax errors are located too", () => {
    expect(issuesOf("id: t\nsteps: [\n")[0]).toMatch(/^3:1 : /);
  });

  test("an unknown top-level key and a missing one", () => {
    expect(issuesOf("id: t\ntitle: T\nsteps: []\ntrigers: {}\n")).toEqual([
      '1:1 : Unrecognized key: "trigers"',
      "3:8 steps: Too small: expected array to have >=1 items",
    ]);
  });
});

describe("the shipped playbooks", () => {
  test("all validate and name only actions that exist", () => {
    const shipped = loadPlaybooks({ dirs: [] });
    expect(shipped.map((p) => p.id).sort()).toEqual([
      "credential-leak",
      "personal-data-breach",
      "unauthorised-internal-access",
      "waf-attack-surge",
    ]);
    for (const p of shipped) for (const s of p.steps) if (!s.manual) expect(actionNames).toContain(s.action);
  });
});

describe("the loader", () => {
  test("reads *.yaml from the configured directories; one of the same id replaces a built-in", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "mine.yaml"), minimal);
    writeFileSync(join(dir, "notes.txt"), "not a playbook");
    writeFileSync(
      join(dir, "leak.yaml"),
      minimal.replace("id: t", "id: credential-leak").replace("title: T", "title: Ours"),
    );
    const all = loadPlaybooks({ dirs: [dir, join(dir, "missing")] });
    expect(all.find((p) => p.id === "t")).toBeDefined();
    expect(all.find((p) => p.id === "credential-leak")?.title).toBe("Ours");
    expect(
      loadPlaybooks({ dirs: [dir], builtins: false })
        .map((p) => p.id)
        .sort(),
    ).toEqual(["credential-leak", "t"]);
  });

  test("validates every file before failing, and refuses an id defined twice", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.yaml"), minimal);
    writeFileSync(join(dir, "b.yaml"), minimal);
    writeFileSync(join(dir, "c.yaml"), "id: Bad Id\ntitle: T\nsteps: []\n");
    let err: unknown;
    try {
      loadPlaybooks({ dirs: [dir], builtins: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).message;
    expect(text).toContain(
      `${join(dir, "b.yaml")}:1:1 id: playbook id 't' is also defined in ${join(dir, "a.yaml")}`,
    );
    expect(text).toContain(`${join(dir, "c.yaml")}:1:5 id: expected lower-case letters`);
  });

  test("the rampart.yaml section has safe defaults", () => {
    expect(playbooksConfigSchema.parse(undefined)).toEqual({
      dirs: ["./playbooks"],
      autoRun: true,
      builtins: true,
    });
    expect(() => playbooksConfigSchema.parse({ autorun: false })).toThrow(/autorun/);
  });
});

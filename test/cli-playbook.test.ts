// `rampart playbook` as a responder uses it against a running server: list and show the playbooks,
// dry-run credential-leak to see what it would do, run a configured playbook that blocks an address,
// follow the run and tick its checklist until it completes; and `validate`, offline, as CI runs it:
// a broken file's errors located by file:line:column with a non-zero exit, the shipped ones clean.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { RunRecord } from "../src/monitoring/playbooks/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { rampart as runRampart } from "./support/cli.ts";

// Each command starts a Node process: a journey of a dozen takes a while on a busy machine.
const JOURNEY_MS = 120_000;
const shipped = fileURLToPath(new URL("../playbooks", import.meta.url));

let t: TestServer;

const rampart = (args: string[]) =>
  runRampart([...args, "--server", t.url, "--token", t.admin], { cwd: t.work });

const blockScanner = `id: block-scanner
title: Block a scanning address
steps:
  - id: block-ip
    phase: contain
    title: Block the scanning address
    action: gateway.block_ip
    with: { ip: "{{ inputs.ip }}", ttl: 1h, reason: scanner }
  - id: confirm
    phase: recover
    title: Confirm the scan stopped
    manual: true
    checklist: [Watch the gateway log for 10 minutes, Record the block on the incident]
`;

beforeAll(async () => {
  t = await startTestServer({
    name: "cli-playbook",
    files: { "playbooks/block-scanner.yaml": blockScanner },
    config: (work) => ({ playbooks: { dirs: [join(work, "playbooks")] } }),
  });
});

afterAll(async () => {
  await t?.stop();
});

test(
  "list, show, dry-run, run, follow and tick a playbook through to completion",
  async () => {
    const [list, listJson, show] = await Promise.all([
      rampart(["playbook", "list"]),
      rampart(["playbook", "list", "--json"]),
      rampart(["playbook", "show", "credential-leak"]),
    ]);
    expect(list.stderr).toBe("");
    expect(list.stdout).toMatch(
      /credential-leak\s+\d+ automated\s+\d+ manual\s+on credential-new-ip, secret-in-code at P2\+/,
    );
    expect(list.stdout).toMatch(
      /block-scanner\s+1 automated\s+1 manual\s+by hand\s+Block a scanning address/,
    );
    expect((JSON.parse(listJson.stdout) as { id: string }[]).map((p) => p.id)).toContain("block-scanner");
    // The outline: phases in order, automated steps with their action, manual ones with their checklist.
    expect(show.stdout).toContain("credential-leak  Credential leak — the first 24 hours");
    expect(show.stdout).toContain(
      "runs on its own for credential-new-ip, secret-in-code at P2 or more urgent",
    );
    expect(show.stdout).toMatch(
      /\ncontain\n {2}▷ revoke-key {2}Revoke the leaked API key.*\(within 15m\)\n {6}identity\.revoke_api_key {2}\(on error: continue\)\n {6}when \{\{ inputs\.credential \}\}\n {6}id: \{\{ inputs\.credential \}\}/,
    );
    expect(show.stdout).toContain(
      "  ○ triage  Triage the credential and its blast radius  [manual]  (within 15m)\n      0. Identify the credential type",
    );
    expect(show.stdout.indexOf("\ndetect\n")).toBeLessThan(show.stdout.indexOf("\ncontain\n"));

    // A dry run shows each step's resolved parameters, and a step it could not run with its error.
    const [dry, broken] = await Promise.all([
      rampart([
        "playbook",
        "run",
        "credential-leak",
        "--dry-run",
        "--input",
        "ip=203.0.113.9",
        "--input",
        "credential=k3y1d",
      ]),
      rampart(["playbook", "run", "block-scanner", "--dry-run", "--input", "ip=not-an-address"]),
    ]);
    expect(dry.stderr).toBe("");
    expect(dry.stdout).toMatch(
      /^run [0-9a-f-]{36} {2}credential-leak {2}dry run \(nothing was changed\)\n {2}started .* by token:admin {2}ended .*\n/,
    );
    expect(dry.stdout).toContain(
      "    ▷ block-ip  Block the address the key was used from at every gateway\n        gateway.block_ip\n        ip: 203.0.113.9\n        ttl: 86400\n        reason: credential leak: k3y1d used from this address\n",
    );
    expect(dry.stdout).toContain(
      "    – revoke-subject  End the holder's sessions, tokens, API keys and JIT grants (skipped: its condition is empty)",
    );
    expect(dry.stdout).toContain(
      "    ○ triage  Triage the credential and its blast radius (waiting: 0/5 checked)",
    );
    expect(broken.stdout).toMatch(
      / {4}✗ block-ip {2}Block the scanning address — .*steps\.block-ip\.with\.ip/,
    );

    // A real run blocks the address and waits on its checklist.
    const ran = await rampart(["playbook", "run", "block-scanner", "--input", "ip=198.51.100.44", "--json"]);
    expect(ran.stderr).toBe("");
    const run = JSON.parse(ran.stdout) as RunRecord;
    expect(run.status).toBe("waiting");
    const blocks = await fetch(`${t.url}/api/v1/gateway/blocks`, {
      headers: { authorization: `Bearer ${t.admin}` },
    });
    expect(JSON.stringify(await blocks.json())).toContain("198.51.100.44");

    const [status, alias, runs] = await Promise.all([
      rampart(["playbook", "run-status", run.id]),
      rampart(["playbook", "show-run", run.id]),
      rampart(["playbook", "runs"]),
    ]);
    expect(status.stdout).toMatch(new RegExp(`^run ${run.id} {2}block-scanner {2}waiting\\n`));
    expect(status.stdout).toContain(
      "  contain\n    ✓ block-ip  Block the scanning address\n  recover\n    ○ confirm  Confirm the scan stopped (waiting: 0/2 checked)\n        0. [ ] Watch the gateway log for 10 minutes\n        1. [ ] Record the block on the incident",
    );
    expect(alias.stdout).toBe(status.stdout);
    expect(runs.stdout).toMatch(new RegExp(`${run.id} {2}block-scanner +waiting +.* 1/2 {2}token:admin`));

    expect((await rampart(["playbook", "check", run.id, "confirm", "--item", "1"])).stdout).toBe(
      "confirm: 1/2 checked; run waiting\n",
    );
    expect((await rampart(["playbook", "check", run.id, "confirm"])).stdout).toBe(
      "confirm: 2/2 checked (step done); run completed\n",
    );
    const after = await rampart(["playbook", "run-status", run.id]);
    expect(after.stdout).toContain(
      "    ✓ confirm  Confirm the scan stopped\n        0. [x] Watch the gateway log for 10 minutes  (token:admin)",
    );
  },
  JOURNEY_MS,
);

test(
  "an unknown playbook or bad input is refused with the server's reason",
  async () => {
    const [missing, badInput] = await Promise.all([
      rampart(["playbook", "run", "no-such-playbook"]),
      rampart(["playbook", "run", "block-scanner", "--input", "no-equals-sign"]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("404 no playbook 'no-such-playbook'");
    expect(badInput.code).not.toBe(0);
    expect(badInput.stderr).toContain("expected key=value");
  },
  JOURNEY_MS,
);

test(
  "validate works offline: a broken file's errors by file:line:column, exit 1; the shipped playbooks pass",
  async () => {
    writeFileSync(
      join(t.work, "broken.yaml"),
      `id: broken
title: Broken
steps:
  - id: block
    phase: contain
    title: Block it
    action: gateway.block_ip
    with: { ip: "{{ inputs.ip }}", reason: x, colour: red }
  - id: tick
    phase: nowhere
    title: Tick
    manual: true
`,
    );
    // No server, no token: as in CI.
    const [broken, good, one] = await Promise.all([
      runRampart(["playbook", "validate", "broken.yaml"], { cwd: t.work }),
      runRampart(["playbook", "validate", shipped], { cwd: t.work }),
      runRampart(["playbook", "validate", "playbooks/block-scanner.yaml", "--json"], { cwd: t.work }),
    ]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toBe(
      "broken.yaml:8:55 steps[0].with.colour: gateway.block_ip takes ip, ttl, reason\n" +
        'broken.yaml:10:12 steps[1].phase: Invalid option: expected one of "prepare"|"detect"|"contain"|"eradicate"|"recover"|"post-incident"\n' +
        "2 errors in broken.yaml\n",
    );
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/: \d+ playbooks valid \(.*credential-leak.*waf-attack-surge.*\)\n$/);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual({
      valid: true,
      target: "playbooks/block-scanner.yaml",
      playbooks: ["block-scanner"],
    });
  },
  JOURNEY_MS,
);

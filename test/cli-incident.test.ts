// `rampart incident` as a responder uses it against a running server: open a P1, be refused an
// early close with the allowed next states, acknowledge, assign, contain, note, link evidence,
// recover, review, close, show its timeline and read the MTTA/MTTR report.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "./support/api.ts";
import { rampart as runRampart } from "./support/cli.ts";

// Each command starts a Node process: a journey of a dozen takes a while on a busy machine.
const JOURNEY_MS = 120_000;

let t: TestServer;

const rampart = (args: string[]) =>
  runRampart([...args, "--server", t.url, "--token", t.admin], { cwd: t.work });

beforeAll(async () => {
  t = await startTestServer({ name: "cli-incident" });
});

afterAll(async () => {
  await t?.stop();
});

test(
  "a P1 from open to close, a refused move explained, and the report",
  async () => {
    const opened = await rampart([
      "incident",
      "open",
      "--title",
      "CI key leaked",
      "--priority",
      "p1",
      "--json",
    ]);
    expect(opened.stderr).toBe("");
    const id = (JSON.parse(opened.stdout) as { id: string }).id;
    expect(id).toMatch(/^INC-\d{4}-0001$/);

    const early = await rampart(["incident", "close", id]);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain("409");
    expect(early.stderr).toContain("allowed next: triaged, contained, eradicated, recovered");

    const ack = await rampart(["incident", "ack", id]);
    expect(ack.stdout).toMatch(new RegExp(`^acknowledged ${id} at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d`));
    expect((await rampart(["incident", "assign", id, "corp:rita"])).stdout).toBe(
      `${id} commander: corp:rita\n`,
    );
    expect((await rampart(["incident", "move", id, "contained", "--note", "key revoked"])).stdout).toBe(
      `${id} is contained; next: eradicated, recovered\n`,
    );
    expect((await rampart(["incident", "note", id, "owner confirmed the leak"])).code).toBe(0);
    const ev = await rampart([
      "incident",
      "evidence",
      id,
      "--kind",
      "event",
      "--ref",
      "0b6f4a52-event",
      "--description",
      "first use from the new IP",
    ]);
    expect(ev.stdout).toBe(`linked to ${id}: event 0b6f4a52-event: first use from the new IP\n`);
    expect((await rampart(["incident", "move", id, "recovered"])).code).toBe(0);

    const reviewed = await rampart([
      "incident",
      "review",
      id,
      "--summary",
      "Key printed by a CI debug step",
      "--root-cause",
      "environment dumped in a debug step",
      "--lesson",
      "mask secrets in CI",
      "--action",
      "turn on masking|corp:rita|2026-02-01",
    ]);
    expect(reviewed.stdout).toBe(`reviewed ${id}: 1 lesson(s), 1 action item(s)\n`);
    expect((await rampart(["incident", "close", id])).stdout).toBe(`closed ${id}\n`);

    const show = await rampart(["incident", "show", id]);
    expect(show.stdout).toContain(`${id}  P1  closed  CI key leaked`);
    expect(show.stdout).toContain("action      turn on masking (corp:rita) due 2026-02-01");
    expect(show.stdout).toMatch(/time\s+kind\s+actor\s+what/);
    expect(show.stdout).toMatch(/note\s+\S+\s+owner confirmed the leak/);
    expect(show.stdout).toContain("contained → recovered");

    const list = await rampart(["incident", "list", "--priority", "P1"]);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+P1\\s+closed`));

    const report = await rampart(["incident", "report", "--since", "1d"]);
    expect(report.stdout).toMatch(/MTTA: opened → acknowledged; MTTR: opened → recovered/);
    expect(report.stdout).toMatch(/^\s+P1\s+1\s+1\s+0\s+\d+s\s+\d+s\s+\d+s\s+\d+s/m);
  },
  JOURNEY_MS,
);

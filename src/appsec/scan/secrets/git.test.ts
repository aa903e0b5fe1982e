// Git modes on a real temporary repository: a secret committed then removed is found in history
// (with its commit) but not in the tree; staged mode sees only what is about to be committed.
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { scanSecrets } from "./index.ts";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ghp = () => `ghp_${Array.from({ length: 36 }, () => ALNUM[randomInt(62)]).join("")}`;

let dir: string;
const git = (...args: string[]) =>
  execFileSync("git", args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      GIT_AUTHOR_NAME: "Dev",
      GIT_AUTHOR_EMAIL: "dev@example.org",
      GIT_COMMITTER_NAME: "Dev",
      GIT_COMMITTER_EMAIL: "dev@example.org",
      GIT_AUTHOR_DATE: "2026-02-03T04:05:06Z",
      GIT_COMMITTER_DATE: "2026-02-03T04:05:06Z",
    },
  })
    .toString()
    .trim();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "rampart-secrets-git-"));
  git("init", "-q", "-b", "main");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("git history", () => {
  it("finds a secret removed in a later commit, with the commit that added it", async () => {
    const token = ghp();
    writeFileSync(join(dir, "app.ts"), "export const x = 1;\n");
    git("add", ".");
    git("commit", "-q", "-m", "init");
    writeFileSync(join(dir, "app.ts"), `export const x = 1;\n\nconst token = "${token}";\n`);
    git("add", ".");
    git("commit", "-q", "-m", "oops");
    const leaked = git("rev-parse", "HEAD");
    writeFileSync(join(dir, "app.ts"), "export const x = 1;\nconst token = process.env.TOKEN;\n");
    git("add", ".");
    git("commit", "-q", "-m", "remove");

    const tree = await scanSecrets({ path: dir });
    expect(tree.findings).toEqual([]);

    const history = await scanSecrets({ path: dir, git: true });
    expect(history.findings).toHaveLength(1);
    const f = history.findings[0]!;
    expect(f).toMatchObject({
      rule: "github-token",
      location: { file: "app.ts", line: 3, column: 16 },
      details: { commit: leaked, date: "2026-02-03T04:05:06.000Z", redacted: "ghp_…(40)" },
    });
    expect(JSON.stringify(history)).not.toContain(token);
    expect(history.stats).toMatchObject({ commits: 3 });

    // Only commits after `leaked`: the secret is not in them.
    const since = await scanSecrets({ path: dir, git: true, since: leaked });
    expect(since.findings).toEqual([]);
    expect(since.stats).toMatchObject({ commits: 1 });
  });

  it("reports a secret once, at the commit that introduced it, across later edits of the file", async () => {
    const token = ghp();
    writeFileSync(join(dir, "a.env"), `TOKEN=${token}\n`);
    git("add", ".");
    git("commit", "-q", "-m", "one");
    const first = git("rev-parse", "HEAD");
    writeFileSync(join(dir, "a.env"), `# header\nTOKEN=${token}\n`);
    git("add", ".");
    git("commit", "-q", "-m", "two");
    const r = await scanSecrets({ path: dir, git: true });
    expect(r.findings.map((f) => [f.details?.commit, f.location.line])).toEqual([[first, 1]]);
  });

  it("fails with exit-worthy errors outside a repository or on a bad revision", async () => {
    await expect(scanSecrets({ path: dir, git: true, since: "no-such-rev" })).rejects.toThrow(
      /git log failed/,
    );
    const outside = mkdtempSync(join(tmpdir(), "rampart-not-git-"));
    try {
      await expect(scanSecrets({ path: outside, git: true })).rejects.toThrow(/git log failed/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("staged changes", () => {
  it("scans only what is staged, with line numbers in the staged file", async () => {
    writeFileSync(join(dir, "a.ts"), "line 1\nline 2\n");
    git("add", ".");
    git("commit", "-q", "-m", "init");
    const staged = ghp();
    writeFileSync(join(dir, "a.ts"), `line 1\nline 2\nconst t = "${staged}";\n`);
    git("add", "a.ts");
    // Not staged: the hook must not judge the working tree.
    writeFileSync(join(dir, "b.ts"), `const u = "${ghp()}";\n`);
    const r = await scanSecrets({ path: dir, staged: true });
    expect(r.findings.map((f) => [f.rule, f.location.file, f.location.line])).toEqual([
      ["github-token", "a.ts", 3],
    ]);
    expect(r.target).toContain("(staged)");
  });

  it("passes when nothing is staged", async () => {
    const r = await scanSecrets({ path: dir, staged: true });
    expect(r.findings).toEqual([]);
  });
});

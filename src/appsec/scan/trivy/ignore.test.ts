import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../config/errors.ts";
import { Invalid } from "../../../platform/errors.ts";
import { applyIgnores, loadIgnores, parseRampartIgnore, parseTrivyIgnore } from "./ignore.ts";
import { parseTrivyReport } from "./parse.ts";

const evalDir = resolve(fileURLToPath(new URL("../../../../", import.meta.url)), "../shared/eval/trivy");
const findingsOf = (name: string) =>
  parseTrivyReport(readFileSync(resolve(evalDir, name), "utf8"), name).findings;

const configError = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected ConfigError");
};

describe(".rampartignore.yaml", () => {
  it("reads ids, reasons, expiry and scopes, remembering where each entry is", () => {
    const rules = parseRampartIgnore(
      [
        "ignores:",
        "  - id: CVE-2019-18224 # libidn2",
        '    reason: "not reachable: we never call idn2 on user input"',
        "    expires: 2026-12-31",
        '    paths: ["usr/lib/**"]',
        "    packages: [libidn2-0]",
        "  - id: KSV001",
        "    reason: the chart is only rendered for kind clusters in CI",
        "    expires: '2026-06-30'",
      ].join("\n"),
      ".rampartignore.yaml",
    );
    expect(rules).toEqual([
      {
        id: "CVE-2019-18224",
        reason: "not reachable: we never call idn2 on user input",
        expires: "2026-12-31",
        paths: ["usr/lib/**"],
        packages: ["libidn2-0"],
        source: ".rampartignore.yaml:2",
      },
      {
        id: "KSV001",
        reason: "the chart is only rendered for kind clusters in CI",
        expires: "2026-06-30",
        source: ".rampartignore.yaml:7",
      },
    ]);
  });

  it("requires a reason and an expiry, and says where each is missing", () => {
    const e = configError(() =>
      parseRampartIgnore(
        [
          "ignores:",
          "  - id: CVE-2019-18224",
          "    expires: 2026-12-31",
          "  - id: CVE-2019-18276",
          "    reason: accepted",
          "  - id: CVE-2020-1",
          "    reason: '  '",
          "    expires: 2026-02-30",
          "    until: tomorrow",
        ].join("\n"),
        "ign.yaml",
      ),
    );
    expect(e.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`)).toEqual([
      "2:5 ignores[0].reason: required: why this finding may be ignored",
      "4:5 ignores[1].expires: required: when this ignore stops applying, as YYYY-MM-DD",
      '6:5 ignores[2]: Unrecognized key: "until"',
      "7:13 ignores[2].reason: required: why this finding may be ignored",
      "8:14 ignores[2].expires: expected a date as YYYY-MM-DD",
    ]);
    expect(e.message).toContain("ign.yaml:2:5 ignores[0].reason");
  });

  it("reports YAML syntax errors with their position; an empty file ignores nothing", () => {
    const e = configError(() => parseRampartIgnore("ignores:\n  - id: [unclosed\n", "bad.yaml"));
    expect(e.issues[0]).toMatchObject({ file: "bad.yaml", line: 3 });
    expect(parseRampartIgnore("", "empty.yaml")).toEqual([]);
  });
});

describe(".trivyignore", () => {
  it("takes the reason from the comment above or after the id, and exp: as the expiry", () => {
    const rules = parseTrivyIgnore(
      [
        "# bash is only used at build time",
        "CVE-2019-18276 exp:2026-03-01",
        "",
        "AVD-KSV-0001 exp:2026-01-15 # kind-only chart",
      ].join("\n"),
      ".trivyignore",
    );
    expect(rules).toEqual([
      {
        id: "CVE-2019-18276",
        reason: "bash is only used at build time",
        expires: "2026-03-01",
        source: ".trivyignore:2",
      },
      { id: "AVD-KSV-0001", reason: "kind-only chart", expires: "2026-01-15", source: ".trivyignore:4" },
    ]);
  });

  it("refuses entries without a reason or an expiry, naming line and column", () => {
    const e = configError(() =>
      parseTrivyIgnore(
        ["CVE-2019-18276", "", "  # why", "  CVE-2019-1 exp:2026-13-01 extra"].join("\n"),
        ".trivyignore",
      ),
    );
    expect(e.issues.map((i) => `${i.line}:${i.column} ${i.message}`)).toEqual([
      "1:1 needs an expiry: add exp:YYYY-MM-DD after the id",
      "1:1 needs a reason: a # comment after the id or on the line above",
      "4:14 expected exp:YYYY-MM-DD",
      "4:29 unexpected 'extra'",
    ]);
  });
});

describe("applying ignores", () => {
  const rule = (over: Partial<Parameters<typeof applyIgnores>[1][number]>) => ({
    id: "CVE-2019-18224",
    reason: "not reachable",
    expires: "2026-12-31",
    source: "i.yaml:2",
    ...over,
  });
  const now = new Date("2026-06-01T12:00:00Z");

  it("suppresses the finding with the ignore's reason and expiry", () => {
    const { findings, expired, unused } = applyIgnores(findingsOf("debian-buster.json"), [rule({})], now);
    const f = findings.find((x) => x.rule === "CVE-2019-18224");
    expect(f?.suppressed).toEqual({ by: "ignore", reason: "not reachable", expires: "2026-12-31" });
    expect(findings.find((x) => x.rule === "CVE-2019-18276")?.suppressed).toBeUndefined();
    expect(expired).toEqual([]);
    expect(unused).toEqual([]);
  });

  it("applies through the expiry day (UTC), and no longer after it, saying so", () => {
    const r = rule({ expires: "2026-06-01" });
    const lastDay = applyIgnores(findingsOf("debian-buster.json"), [r], new Date("2026-06-01T23:59:59Z"));
    expect(lastDay.findings.find((x) => x.rule === "CVE-2019-18224")?.suppressed).toBeDefined();
    const after = applyIgnores(findingsOf("debian-buster.json"), [r], new Date("2026-06-02T00:00:00Z"));
    const f = after.findings.find((x) => x.rule === "CVE-2019-18224");
    expect(f?.suppressed).toBeUndefined();
    expect(f?.details).toMatchObject({ ignoreExpired: "2026-06-01", ignoreSource: "i.yaml:2" });
    expect(after.expired).toEqual([{ rule: r, fingerprint: f?.fingerprint }]);
    expect(after.unused).toEqual([]);
  });

  it("a live ignore wins over an expired one for the same finding", () => {
    const { findings } = applyIgnores(
      findingsOf("debian-buster.json"),
      [rule({ expires: "2025-01-01", reason: "old" }), rule({ reason: "renewed" })],
      now,
    );
    expect(findings.find((x) => x.rule === "CVE-2019-18224")?.suppressed?.reason).toBe("renewed");
  });

  it("scopes by package and by target path", () => {
    const alpine = findingsOf("alpine-310.json");
    const byPkg = applyIgnores(alpine, [rule({ id: "CVE-2019-1549", packages: ["libssl*"] })], now);
    expect(byPkg.findings.filter((f) => f.suppressed).map((f) => f.location.path)).toEqual([
      "libssl1.1@1.1.1c-r0",
    ]);

    const npm = findingsOf("npm.json");
    const elsewhere = applyIgnores(npm, [rule({ id: "CVE-2019-11358", paths: ["web/**"] })], now);
    expect(elsewhere.findings[0]?.suppressed).toBeUndefined();
    expect(elsewhere.unused).toHaveLength(1);
    const here = applyIgnores(npm, [rule({ id: "CVE-2019-11358", paths: ["package-lock.json"] })], now);
    expect(here.findings[0]?.suppressed).toBeDefined();

    const image = applyIgnores(
      alpine,
      [rule({ id: "CVE-2019-1551", paths: ["testdata/fixtures/images/*.tar.gz"] })],
      now,
    );
    expect(image.findings.filter((f) => f.suppressed)).toHaveLength(2);
  });

  it("matches a misconfiguration by its new id, its old id or its AVD id", () => {
    const helm = findingsOf("helm_testchart.json");
    for (const id of ["KSV-0001", "KSV001", "AVD-KSV-0001", "ksv-0001"]) {
      const { findings } = applyIgnores(helm, [rule({ id })], now);
      expect(findings.filter((f) => f.suppressed).map((f) => f.rule)).toEqual(["KSV-0001"]);
    }
  });
});

describe("loading ignore files", () => {
  it("reads .rampartignore.yaml and .trivyignore from the working directory when present", () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-ign-"));
    expect(loadIgnores({ cwd: dir })).toEqual({ rules: [], files: [] });
    writeFileSync(
      join(dir, ".rampartignore.yaml"),
      "ignores:\n  - {id: CVE-1, reason: r, expires: 2026-01-01}\n",
    );
    writeFileSync(join(dir, ".trivyignore"), "CVE-2 exp:2026-01-01 # because\n");
    const loaded = loadIgnores({ cwd: dir });
    expect(loaded.rules.map((r) => r.id)).toEqual(["CVE-1", "CVE-2"]);
    expect(loaded.files).toEqual([join(dir, ".rampartignore.yaml"), join(dir, ".trivyignore")]);
  });

  it("an explicit ignore file must exist", () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-ign-"));
    expect(() => loadIgnores({ cwd: dir, ignoreFile: join(dir, "nope.yaml") })).toThrow(Invalid);
    expect(() => loadIgnores({ cwd: dir, ignoreFile: join(dir, "nope.yaml") })).toThrow(
      /ignore file not found/,
    );
  });
});

// The shipped compliance catalogue: every framework loads with the ids auditors expect, every
// control maps to the core frameworks and resolves, every planned check is used, licensed titles
// are our own paraphrases, and a broken file is reported at file:line:column.
import { builtinChecks } from "../checks/index.ts";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ConfigError } from "../../../config/errors.ts";
import { catalogueProblems, controlsFor, loadCatalogue, requirementsOf } from "./index.ts";

/** The check ids the compliance engine registers; the catalogue must use each and no other. */
const checkIds = builtinChecks.map((c) => c.id);

const range = (prefix: string, from: number, to: number, suffix = "") =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}${suffix}`);

const catalogue = loadCatalogue();
const refs = (frameworkId: string) => requirementsOf(catalogue, frameworkId).map((r) => r.ref);

describe("shipped catalogue", () => {
  test("every framework loads with requirements, licence and attribution", () => {
    expect(catalogue.frameworks.map((f) => f.id).sort()).toEqual([
      "cis-k8s",
      "dpdp",
      "gdpr",
      "iso27001",
      "iso27017",
      "iso27018",
      "nist-csf-2.0",
      "soc2",
    ]);
    for (const f of catalogue.frameworks) {
      expect(requirementsOf(catalogue, f.id).length, f.id).toBeGreaterThan(0);
      expect(f.attribution.length, f.id).toBeGreaterThan(20);
    }
    const licence = Object.fromEntries(catalogue.frameworks.map((f) => [f.id, f.licence]));
    expect(licence).toMatchObject({
      iso27001: "ids-and-own-words",
      soc2: "ids-and-own-words",
      "cis-k8s": "ids-and-own-words",
      gdpr: "text-with-attribution",
      dpdp: "text-with-attribution",
      "nist-csf-2.0": "public-domain",
    });
  });

  test("loading twice returns the cached catalogue", () => {
    expect(loadCatalogue()).toBe(catalogue);
  });

  test("ISO 27001 has exactly the 93 Annex A ids, grouped by theme", () => {
    const expected = [
      ...range("A.5.", 1, 37),
      ...range("A.6.", 1, 8),
      ...range("A.7.", 1, 14),
      ...range("A.8.", 1, 34),
    ];
    expect(expected).toHaveLength(93);
    expect(refs("iso27001")).toEqual(expected);
    const themes = new Map(requirementsOf(catalogue, "iso27001").map((r) => [r.ref, r.group]));
    expect([themes.get("A.5.37"), themes.get("A.6.8"), themes.get("A.7.14"), themes.get("A.8.34")]).toEqual([
      "Organizational",
      "People",
      "Physical",
      "Technological",
    ]);
  });

  test("SOC 2 common criteria CC1 to CC9 are complete", () => {
    const cc = refs("soc2").filter((r) => r.startsWith("CC"));
    expect(cc).toEqual([
      ...range("CC1.", 1, 5),
      ...range("CC2.", 1, 3),
      ...range("CC3.", 1, 4),
      ...range("CC4.", 1, 2),
      ...range("CC5.", 1, 3),
      ...range("CC6.", 1, 8),
      ...range("CC7.", 1, 5),
      "CC8.1",
      ...range("CC9.", 1, 2),
    ]);
    expect(refs("soc2")).toEqual(
      expect.arrayContaining(["A1.1", "A1.3", "C1.2", "PI1.5", "P1.1", "P6.7", "P8.1"]),
    );
  });

  test("CSF 2.0 has all six functions and the subcategories the mappings need", () => {
    const csf = requirementsOf(catalogue, "nist-csf-2.0");
    expect(new Set(csf.map((r) => r.ref.slice(0, 2)))).toEqual(new Set(["GV", "ID", "PR", "DE", "RS", "RC"]));
    expect(csf).toHaveLength(106);
    expect(csf.map((r) => r.ref)).toEqual(
      expect.arrayContaining([
        "GV.PO-01",
        "ID.RA-01",
        ...range("PR.AA-0", 1, 6),
        "PR.DS-01",
        "PR.DS-02",
        "PR.DS-10",
        "PR.PS-01",
        "PR.PS-04",
        "PR.PS-06",
        "PR.IR-01",
        "PR.IR-04",
        "DE.CM-01",
        "DE.CM-03",
        "DE.CM-09",
        "DE.AE-02",
        "DE.AE-06",
        "RS.MA-01",
        "RS.MA-02",
        "RS.CO-02",
        "RS.CO-03",
        "RC.RP-01",
      ]),
    );
  });

  test("CIS Kubernetes ids include every id the k8s scanner cites", async () => {
    const { k8sRules } = await import("../../../appsec/scan/k8s/cis.ts");
    const cited = new Set(Object.values(k8sRules).flatMap((r) => ("cis" in r ? [...r.cis] : [])));
    expect(cited.size).toBeGreaterThan(0);
    expect(refs("cis-k8s")).toEqual(expect.arrayContaining([...cited]));
  });

  test("DPDP carries the fiduciary duties of the Act and the final Rules numbering", () => {
    expect(refs("dpdp")).toEqual(
      expect.arrayContaining([
        "s.5",
        "s.6",
        "s.8(5)",
        "s.8(6)",
        "s.8(7)",
        "s.8(9)",
        "s.9",
        "s.10",
        "s.11",
        "s.16",
        "Rule 3",
        "Rule 6(1)(e)",
        "Rule 7(2)",
        "Rule 8(3)",
        "Rule 10",
        "Rule 13",
        "Rule 14",
        "Rule 15",
      ]),
    );
  });

  test("the catalogue is consistent with the registered checks", () => {
    expect(catalogueProblems(catalogue, checkIds)).toEqual([]);
    const used = new Set(catalogue.controls.flatMap((c) => c.checks));
    for (const check of checkIds) expect(used.has(check), check).toBe(true);
  });

  test("every control maps to ISO 27001, SOC 2 and CSF 2.0", () => {
    for (const control of catalogue.controls) {
      const frameworks = new Set(control.mappings.map((m) => m.frameworkId));
      for (const f of ["iso27001", "soc2", "nist-csf-2.0"])
        expect(frameworks.has(f), `${control.id} -> ${f}`).toBe(true);
    }
  });

  test("every mapping resolves to a requirement of its framework", () => {
    const keys = new Set(catalogue.requirements.map((r) => `${r.frameworkId} ${r.ref}`));
    const mappings = catalogue.controls.flatMap((c) => c.mappings);
    expect(mappings.length).toBeGreaterThan(100);
    for (const m of mappings)
      expect(keys.has(`${m.frameworkId} ${m.ref}`), `${m.frameworkId} ${m.ref}`).toBe(true);
  });

  test("controls without checks are the ones needing manual evidence", () => {
    const manual = catalogue.controls.filter((c) => c.checks.length === 0).map((c) => c.id);
    expect(manual.sort()).toEqual(["ZT-DAT-004", "ZT-GOV-001"]);
  });

  test("controlsFor finds controls by requirement with their relationship", () => {
    expect(controlsFor(catalogue, "iso27001", "A.8.15").map((x) => x.control.id)).toEqual(
      expect.arrayContaining(["ZT-MON-001", "ZT-MON-002"]),
    );
    expect(controlsFor(catalogue, "gdpr", "Art. 12(3)")).toEqual([
      expect.objectContaining({
        control: expect.objectContaining({ id: "ZT-DAT-001" }),
        relationship: "equal",
      }),
    ]);
    expect(controlsFor(catalogue, "iso27001", "A.7.4")).toEqual([]);
    expect(requirementsOf(catalogue, "no-such-framework")).toEqual([]);
  });

  test("ISO, SOC 2 and CIS titles are our own words, not the official titles", () => {
    // A few well-known official titles (ids only may ship); ours must differ from each.
    const official: [string, string, string][] = [
      ["iso27001", "A.5.1", "Policies for information security"],
      ["iso27001", "A.5.8", "Information security in project management"],
      ["iso27001", "A.8.28", "Secure coding"],
      ["iso27001", "A.6.1", "Screening"],
      ["iso27001", "A.8.15", "Logging"],
      ["iso27001", "A.5.15", "Access control"],
      ["iso27001", "A.8.24", "Use of cryptography"],
      ["iso27017", "CLD.9.5.2", "Virtual machine hardening"],
      ["iso27018", "A.10.1", "Notification of a data breach involving PII"],
      ["cis-k8s", "5.1.1", "Ensure that the cluster-admin role is only used where required"],
      ["cis-k8s", "5.2.2", "Minimize the admission of privileged containers"],
    ];
    const norm = (s: string) =>
      s
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, " ")
        .trim();
    for (const [fw, ref, title] of official) {
      const ours = requirementsOf(catalogue, fw).find((r) => r.ref === ref);
      expect(ours, `${fw} ${ref}`).toBeDefined();
      expect(norm(ours!.title), `${fw} ${ref}`).not.toBe(norm(title));
      expect(norm(ours!.title), `${fw} ${ref}`).not.toContain(norm(title));
    }
    // CIS ships no recommendation text: none of our one-liners uses the benchmark's phrasing.
    for (const r of requirementsOf(catalogue, "cis-k8s")) expect(r.title).not.toMatch(/^(Ensure|Minimize)\b/);
  });
});

describe("catalogueProblems", () => {
  test("reports unknown checks, unused checks, unknown mappings and duplicates", () => {
    const broken = structuredClone(catalogue);
    const first = broken.controls[0]!;
    broken.controls.push({ ...first, mappings: [...first.mappings] });
    first.checks.push("gateway.no-such-check");
    first.mappings.push(
      { frameworkId: "iso27001", ref: "A.9.9", relationship: "subset" },
      { frameworkId: "pci-dss", ref: "1.1", relationship: "intersect" },
    );
    broken.requirements.push({ ...broken.requirements[0]! });
    const problems = catalogueProblems(broken, [...checkIds, "audit.unused"]);
    expect(problems).toEqual(
      expect.arrayContaining([
        `duplicate control ${first.id}`,
        `duplicate requirement ${broken.requirements[0]!.frameworkId} ${broken.requirements[0]!.ref}`,
        `control ${first.id} names unknown check gateway.no-such-check`,
        `control ${first.id} maps to unknown requirement iso27001 A.9.9`,
        `control ${first.id} maps to unknown framework pci-dss`,
        "check audit.unused is used by no control",
      ]),
    );
  });
});

describe("loading a catalogue directory", () => {
  const dirs: string[] = [];
  const catalogueIn = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-catalogue-"));
    dirs.push(dir);
    mkdirSync(join(dir, "frameworks"));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const framework = (extra = "") => `framework:
  id: demo
  name: Demo
  version: "1"
  publisher: Demo Org
  licence: ids-and-own-words
  attribution: Demo framework ids, descriptions are ours.
  sourceUrl: https://example.org/demo
groups:
  - name: All
    requirements:
      - ref: D.1
        title: The first requirement
${extra}`;
  const controls = (mappings = "{ D.1: subset }") => `controls:
  - id: ZT-GOV-001
    title: A control
    description: A control for the demo framework.
    domain: governance
    checks: [audit.retention]
    mappings:
      demo: ${mappings}
`;
  const errorOf = (dir: string): ConfigError => {
    try {
      loadCatalogue(dir);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error("expected a ConfigError");
  };

  test("a valid directory loads, separate from the shipped catalogue", () => {
    const dir = catalogueIn({ "frameworks/demo.yaml": framework(), "controls.yaml": controls() });
    const c = loadCatalogue(dir);
    expect(c.frameworks.map((f) => f.id)).toEqual(["demo"]);
    expect(c.controls[0]!.mappings).toEqual([{ frameworkId: "demo", ref: "D.1", relationship: "subset" }]);
    expect(catalogueProblems(c, ["audit.retention"])).toEqual([]);
  });

  test("a YAML syntax error names the file, line and column", () => {
    const dir = catalogueIn({
      "frameworks/demo.yaml": framework().replace("  name: Demo\n", '  name: "Demo\n'),
      "controls.yaml": controls(),
    });
    const err = errorOf(dir);
    const issue = err.issues[0]!;
    expect(issue.file).toBe(join(dir, "frameworks", "demo.yaml"));
    expect(issue.line).toBeGreaterThanOrEqual(3);
    expect(issue.column).toBeGreaterThanOrEqual(1);
    expect(err.message).toContain(`${join(dir, "frameworks", "demo.yaml")}:${issue.line}:${issue.column}`);
  });

  test("a schema error points at the offending key", () => {
    const dir = catalogueIn({
      "frameworks/demo.yaml": framework().replace("ids-and-own-words", "all-rights-reserved"),
      "controls.yaml": controls(),
    });
    const err = errorOf(dir);
    expect(err.issues).toEqual([
      expect.objectContaining({
        file: join(dir, "frameworks", "demo.yaml"),
        line: 6,
        path: "framework.licence",
      }),
    ]);
  });

  test("a mapping to an unknown requirement is reported at its line in controls.yaml", () => {
    const dir = catalogueIn({
      "frameworks/demo.yaml": framework(),
      "controls.yaml": controls("{ D.1: subset, D.2: intersect }"),
    });
    const err = errorOf(dir);
    expect(err.issues).toEqual([
      expect.objectContaining({
        file: join(dir, "controls.yaml"),
        line: 8,
        path: "controls[0].mappings.demo.D.2",
        message: "'D.2' is not a requirement of demo",
      }),
    ]);
  });

  test("duplicate refs and a framework id that differs from its file name are reported", () => {
    const dir = catalogueIn({
      "frameworks/other.yaml": framework("      - ref: D.1\n        title: The same ref again\n"),
      "controls.yaml": controls(),
    });
    const messages = errorOf(dir).issues.map((i) => `${i.line} ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        "2 id 'demo' does not match the file name other.yaml",
        "14 duplicate ref 'D.1'",
      ]),
    );
  });
});

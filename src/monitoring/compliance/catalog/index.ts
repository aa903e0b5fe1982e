// The compliance catalogue Rampart ships: one YAML file per framework (metadata and requirements)
// under frameworks/, and Rampart's own controls with their checks and typed mappings in
// controls.yaml. The loader validates every file against a zod schema and reports problems at
// file:line:column; catalogueProblems() cross-checks a catalogue against the registered checks.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../../../config/errors.ts";
import { type LocatedYaml, parseYamlWith } from "../../../config/yaml.ts";
import {
  type Catalogue,
  type Control,
  type Framework,
  type Relationship,
  type Requirement,
  relationships,
} from "../model.ts";

/** The directory of the shipped catalogue (this module's own directory). */
export const catalogueDir = import.meta.dirname;

const licences = ["ids-and-own-words", "text-with-attribution", "public-domain"] as const;
const domains = ["network", "identity", "appsec", "data", "monitoring", "governance"] as const;

const line = z.string().trim().min(1);
const frameworkId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{0,39}$/, "expected lower-case letters, digits, dots and dashes");
const ref = z.string().trim().min(1).max(40);

const frameworkFileSchema = z.strictObject({
  framework: z.strictObject({
    id: frameworkId,
    name: line.max(200),
    version: z.union([line.max(60), z.number().transform(String)]),
    publisher: line.max(200),
    licence: z.enum(licences),
    attribution: line.max(1000),
    sourceUrl: z.url({ protocol: /^https$/ }),
  }),
  groups: z
    .array(
      z.strictObject({
        name: line.max(200),
        requirements: z.array(z.strictObject({ ref, title: line.max(300) })).min(1),
      }),
    )
    .min(1),
});

const controlsFileSchema = z.strictObject({
  controls: z
    .array(
      z.strictObject({
        id: z.string().regex(/^ZT-[A-Z]{2,5}-\d{3}$/, "expected an id such as ZT-NET-001"),
        title: line.max(200),
        description: line.max(2000),
        domain: z.enum(domains),
        checks: z.array(
          z.string().regex(/^[a-z]+\.[a-z0-9-]+$/, "expected a check id such as gateway.waf-blocking"),
        ),
        /** framework id -> requirement ref -> relationship */
        mappings: z.record(frameworkId, z.record(ref, z.enum(relationships))),
      }),
    )
    .min(1),
});

function readLocated<T>(
  file: string,
  schema: z.ZodType<T>,
  issues: ConfigIssue[],
): { data: T; yaml: LocatedYaml } | undefined {
  try {
    return parseYamlWith(readFileSync(file, "utf8"), file, schema);
  } catch (err) {
    if (err instanceof ConfigError) issues.push(...err.issues);
    else issues.push({ file, line: 1, column: 1, path: "", message: (err as Error).message });
    return undefined;
  }
}

/** Reads and validates the catalogue in `dir`; one ConfigError lists every problem found. */
function readCatalogue(dir: string): Catalogue {
  const issues: ConfigIssue[] = [];
  const frameworks: Framework[] = [];
  const requirements: Requirement[] = [];
  const refsByFramework = new Map<string, Set<string>>();
  // Frameworks whose file did not parse: mappings to them are not reported again as unknown.
  const unreadable = new Set<string>();

  const frameworksDir = join(dir, "frameworks");
  let names: string[] = [];
  try {
    names = readdirSync(frameworksDir)
      .filter((n) => n.endsWith(".yaml"))
      .sort();
  } catch (err) {
    issues.push({ file: frameworksDir, line: 1, column: 1, path: "", message: (err as Error).message });
  }
  for (const name of names) {
    const file = join(frameworksDir, name);
    const read = readLocated(file, frameworkFileSchema, issues);
    if (!read) {
      unreadable.add(basename(name, ".yaml"));
      continue;
    }
    const { data, yaml } = read;
    const fw = data.framework;
    // The file name is the id, so a framework is found where its id says.
    if (fw.id !== basename(name, ".yaml"))
      issues.push(yaml.issueAt(["framework", "id"], `id '${fw.id}' does not match the file name ${name}`));
    if (refsByFramework.has(fw.id)) {
      issues.push(yaml.issueAt(["framework", "id"], `framework '${fw.id}' is defined twice`));
      continue;
    }
    const refs = new Set<string>();
    refsByFramework.set(fw.id, refs);
    frameworks.push({ ...fw });
    data.groups.forEach((group, g) =>
      group.requirements.forEach((r, i) => {
        if (refs.has(r.ref))
          issues.push(yaml.issueAt(["groups", g, "requirements", i, "ref"], `duplicate ref '${r.ref}'`));
        refs.add(r.ref);
        requirements.push({ frameworkId: fw.id, ref: r.ref, title: r.title, group: group.name });
      }),
    );
  }

  const controls: Control[] = [];
  const read = readLocated(join(dir, "controls.yaml"), controlsFileSchema, issues);
  if (read) {
    const seen = new Set<string>();
    read.data.controls.forEach((c, i) => {
      if (seen.has(c.id))
        issues.push(read.yaml.issueAt(["controls", i, "id"], `duplicate control id '${c.id}'`));
      seen.add(c.id);
      const mappings = Object.entries(c.mappings).flatMap(([fwId, byRef]) => {
        const refs = refsByFramework.get(fwId);
        if (!refs) {
          if (!unreadable.has(fwId))
            issues.push(read.yaml.issueAt(["controls", i, "mappings", fwId], `unknown framework '${fwId}'`));
          return [];
        }
        return Object.entries(byRef).map(([r, relationship]) => {
          if (!refs.has(r))
            issues.push(
              read.yaml.issueAt(
                ["controls", i, "mappings", fwId, r],
                `'${r}' is not a requirement of ${fwId}`,
              ),
            );
          return { frameworkId: fwId, ref: r, relationship };
        });
      });
      controls.push({ ...c, checks: [...c.checks], mappings });
    });
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return { frameworks, requirements, controls };
}

let shipped: Catalogue | undefined;

/**
 * The catalogue in `dir` (default: the one shipped beside this module, read once and cached).
 * Throws ConfigError naming file, line and column for every syntax, schema or reference problem.
 */
export function loadCatalogue(dir?: string): Catalogue {
  if (dir !== undefined && dir !== catalogueDir) return readCatalogue(dir);
  shipped ??= readCatalogue(catalogueDir);
  return shipped;
}

/**
 * Cross-checks a catalogue against the registered check ids: mappings to unknown frameworks or
 * requirements, controls naming unknown checks, duplicate ids, refs and mappings, and checks that
 * no control uses. Empty when the catalogue is consistent.
 */
export function catalogueProblems(c: Catalogue, checkIds: readonly string[]): string[] {
  const problems: string[] = [];
  const dupes = (what: string, keys: string[]) => {
    const seen = new Set<string>();
    for (const k of keys) {
      if (seen.has(k)) problems.push(`duplicate ${what} ${k}`);
      seen.add(k);
    }
  };
  dupes(
    "framework",
    c.frameworks.map((f) => f.id),
  );
  dupes(
    "requirement",
    c.requirements.map((r) => `${r.frameworkId} ${r.ref}`),
  );
  dupes(
    "control",
    c.controls.map((x) => x.id),
  );
  dupes("check", [...checkIds]);

  const frameworkIds = new Set(c.frameworks.map((f) => f.id));
  const requirementKeys = new Set(c.requirements.map((r) => `${r.frameworkId} ${r.ref}`));
  for (const r of c.requirements)
    if (!frameworkIds.has(r.frameworkId))
      problems.push(`requirement ${r.ref} belongs to unknown framework ${r.frameworkId}`);

  const known = new Set(checkIds);
  const used = new Set<string>();
  for (const control of c.controls) {
    for (const check of control.checks) {
      used.add(check);
      if (!known.has(check)) problems.push(`control ${control.id} names unknown check ${check}`);
    }
    const mapped = new Set<string>();
    for (const m of control.mappings) {
      const key = `${m.frameworkId} ${m.ref}`;
      if (mapped.has(key)) problems.push(`control ${control.id} maps ${key} twice`);
      mapped.add(key);
      if (!frameworkIds.has(m.frameworkId))
        problems.push(`control ${control.id} maps to unknown framework ${m.frameworkId}`);
      else if (!requirementKeys.has(key))
        problems.push(`control ${control.id} maps to unknown requirement ${m.frameworkId} ${m.ref}`);
      if (!(relationships as readonly string[]).includes(m.relationship))
        problems.push(`control ${control.id} maps ${key} with unknown relationship ${m.relationship}`);
    }
  }
  for (const check of checkIds) if (!used.has(check)) problems.push(`check ${check} is used by no control`);
  return problems;
}

/** The requirements of a framework, in catalogue order (empty for an unknown framework). */
export function requirementsOf(c: Catalogue, frameworkId: string): Requirement[] {
  return c.requirements.filter((r) => r.frameworkId === frameworkId);
}

/** The controls mapped to one requirement, each with the relationship of its mapping. */
export function controlsFor(
  c: Catalogue,
  frameworkId: string,
  ref: string,
): { control: Control; relationship: Relationship }[] {
  return c.controls.flatMap((control) =>
    control.mappings
      .filter((m) => m.frameworkId === frameworkId && m.ref === ref)
      .map((m) => ({ control, relationship: m.relationship })),
  );
}

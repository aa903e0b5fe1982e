// CycloneDX SBOM of the runtime tree, made by `npm sbom` from package-lock.json. npm's own
// `--omit=dev` also drops production packages that a dev dependency shares (npm/cli#7909), so the
// whole tree is exported and pruned here to the runtime packages the lockfile lists. The result is
// checked to parse and to hold exactly one component per runtime name@version.
import { writeFileSync } from "node:fs";
import { runtimePackages } from "./lockfile.ts";
import { CannotRun, lastErrorLine, npmJson, runNpm } from "./npm.ts";

interface Component {
  "bom-ref"?: string;
  name?: string;
  version?: string;
  [key: string]: unknown;
}
interface Bom {
  bomFormat?: unknown;
  specVersion?: unknown;
  metadata?: {
    component?: Component;
    properties?: { name: string; value: string }[];
    [key: string]: unknown;
  };
  components?: Component[];
  dependencies?: { ref: string; dependsOn?: string[] }[];
  [key: string]: unknown;
}

export interface SbomResult {
  status: "pass" | "fail";
  out: string;
  specVersion: string;
  components: number;
  /** Distinct name@version in the runtime tree. */
  runtimePackages: number;
  /** Runtime packages with no component (a failed check). */
  missing: string[];
}

/** Keeps the components (and dependency edges) of the runtime tree; names the root as package.json does. */
export function pruneToRuntime(bom: Bom, runtimeIds: ReadonlySet<string>, projectName?: string): Bom {
  if (bom.bomFormat !== "CycloneDX" || !Array.isArray(bom.components)) {
    throw new CannotRun("npm sbom did not produce a CycloneDX document with a components list");
  }
  const components = bom.components.filter((c) => runtimeIds.has(c["bom-ref"] ?? `${c.name}@${c.version}`));
  const kept = new Set(components.map((c) => c["bom-ref"]));
  const rootRef = bom.metadata?.component?.["bom-ref"];
  const dependencies = (bom.dependencies ?? [])
    .filter((d) => d.ref === rootRef || kept.has(d.ref))
    .map((d) => ({ ...d, ...(d.dependsOn ? { dependsOn: d.dependsOn.filter((r) => kept.has(r)) } : {}) }));
  const metadata = bom.metadata
    ? {
        ...bom.metadata,
        // npm names the root after its directory; the package's name is what a reader looks for.
        ...(bom.metadata.component && projectName
          ? { component: { ...bom.metadata.component, name: projectName } }
          : {}),
        properties: [
          ...(bom.metadata.properties ?? []),
          {
            name: "rampart:sbom:scope",
            value: "runtime (npm sbom of the lockfile, dev-only packages removed)",
          },
        ],
      }
    : undefined;
  return { ...bom, ...(metadata ? { metadata } : {}), components, dependencies };
}

/** Checks a pruned SBOM against the runtime tree. */
export function checkSbom(
  bom: Bom,
  runtimeIds: ReadonlySet<string>,
): { missing: string[]; components: number } {
  const refs = new Set((bom.components ?? []).map((c) => c["bom-ref"] ?? `${c.name}@${c.version}`));
  return { missing: [...runtimeIds].filter((id) => !refs.has(id)).sort(), components: refs.size };
}

/** Runs npm sbom, prunes to the runtime tree, checks it and writes it to `out`. */
export async function runSbom(
  root: string,
  lock: unknown,
  out: string,
  projectName?: string,
): Promise<SbomResult> {
  const result = await runNpm(["sbom", "--sbom-format", "cyclonedx", "--package-lock-only"], root);
  if (result.code !== 0) {
    throw new CannotRun(
      `npm sbom failed (exit ${result.code}): ${lastErrorLine(result.stderr) ?? "no error message"}`,
    );
  }
  const runtimeIds = new Set(runtimePackages(lock).map((p) => `${p.name}@${p.version}`));
  const bom = pruneToRuntime(npmJson(result, "npm sbom") as Bom, runtimeIds, projectName);
  const { missing, components } = checkSbom(bom, runtimeIds);
  const text = `${JSON.stringify(bom, null, 2)}\n`;
  // Read back what will be written: the file must be a CycloneDX document a consumer can parse.
  const reread = JSON.parse(text) as Bom;
  if (reread.bomFormat !== "CycloneDX") throw new CannotRun("the SBOM does not read back as CycloneDX");
  writeFileSync(out, text);
  return {
    status: missing.length === 0 && components === runtimeIds.size ? "pass" : "fail",
    out,
    specVersion: typeof bom.specVersion === "string" ? bom.specVersion : "?",
    components,
    runtimePackages: runtimeIds.size,
    missing,
  };
}

// Playbooks as code: the YAML shape, its validation (every error located by file:line:column and
// key path), the loader that reads the built-in playbooks and the configured directories, and the
// `playbooks:` section of rampart.yaml.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../../config/errors.ts";
import { parseYamlWith } from "../../config/yaml.ts";
import { priorities } from "../detect/types.ts";
import { actionNames, actionSchemas, durationSchema, type ActionName } from "./actions.ts";
import { templateProblem } from "./template.ts";

/** NIST SP 800-61r3 / AWS playbook phases, in order. */
export const phases = ["prepare", "detect", "contain", "eradicate", "recover", "post-incident"] as const;
export type Phase = (typeof phases)[number];

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "expected lower-case letters, digits and dashes (at most 64)");

const templated = z
  .string()
  .max(2000)
  .superRefine((s, ctx) => {
    const problem = templateProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

// Every string inside `with`, at any depth, must be a well-formed template or plain text.
const withValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([templated, z.number(), z.boolean(), z.array(withValue), z.record(z.string(), withValue)]),
);

const stepSchema = z
  .strictObject({
    id,
    phase: z.enum(phases),
    title: z.string().trim().min(1).max(200),
    description: z.string().max(4000).optional(),
    /** An automated step: the action it calls and its parameters (templates allowed). */
    action: z.enum(actionNames as [ActionName, ...ActionName[]]).optional(),
    with: z.record(z.string(), withValue).optional(),
    /** Target time from the run's start; overdue steps are reported. */
    deadline: durationSchema.optional(),
    onError: z.enum(["stop", "continue"]).optional(),
    /** Skip the step when this resolves empty (or false, no, 0). */
    when: templated.optional(),
    /** A manual step: recorded as waiting until people tick its checklist. */
    manual: z.boolean().optional(),
    checklist: z.array(z.string().trim().min(1).max(500)).max(100).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.manual) {
      for (const k of ["action", "with", "onError"] as const)
        if (s[k] !== undefined)
          ctx.addIssue({ code: "custom", path: [k], message: `a manual step has no ${k}` });
      return;
    }
    if (s.checklist !== undefined)
      ctx.addIssue({ code: "custom", path: ["checklist"], message: "a checklist needs manual: true" });
    if (s.action === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["action"],
        message: "a step needs an action, or manual: true with a checklist",
      });
      return;
    }
    // The keys are checked now; values (templated) are checked once resolved, by a dry run or a run.
    const shape = actionSchemas[s.action].shape as Record<string, z.ZodType>;
    for (const k of Object.keys(s.with ?? {}))
      if (!(k in shape))
        ctx.addIssue({
          code: "custom",
          path: ["with", k],
          message: `${s.action} takes ${Object.keys(shape).join(", ")}`,
        });
    for (const [k, schema] of Object.entries(shape))
      if (!(k in (s.with ?? {})) && !schema.safeParse(undefined).success)
        ctx.addIssue({ code: "custom", path: ["with"], message: `${s.action} needs ${k}` });
  });

export const playbookSchema = z
  .strictObject({
    id,
    title: z.string().trim().min(1).max(200),
    description: z.string().max(8000).optional(),
    /** Runs on its own when an incident opens from one of these rules at this priority or more urgent. */
    trigger: z
      .strictObject({
        rules: z.array(z.string().min(1).max(128)).min(1),
        minPriority: z.enum(priorities).default("P3"),
      })
      .optional(),
    /** Named inputs, templated from the trigger context (`detection`, `incident`); given inputs win. */
    inputs: z.record(z.string().regex(/^[A-Za-z_][\w-]*$/, "expected a plain name"), templated).default({}),
    steps: z.array(stepSchema).min(1).max(200),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.steps.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({
          code: "custom",
          path: ["steps", i, "id"],
          message: `step id '${s.id}' is used twice`,
        });
      seen.add(s.id);
    });
  });

export type Playbook = z.output<typeof playbookSchema>;
export type PlaybookStep = Playbook["steps"][number];

/** rampart.yaml's `playbooks:` section. */
export const playbooksConfigSchema = z
  .strictObject({
    /** Directories of `*.yaml` playbooks, relative to the config file's directory. */
    dirs: z.array(z.string().min(1)).default(() => ["./playbooks"]),
    /** Run matching playbooks when an incident opens. */
    autoRun: z.boolean().default(true),
    /** Load the playbooks shipped with Rampart; one of the same id in `dirs` replaces it. */
    builtins: z.boolean().default(true),
  })
  .default({ dirs: ["./playbooks"], autoRun: true, builtins: true });
export type PlaybooksConfig = z.output<typeof playbooksConfigSchema>;

/** The directory of the playbooks shipped with Rampart (`playbooks/` at the package root). */
export const builtinPlaybooksDir = fileURLToPath(new URL("../../../playbooks/", import.meta.url));

/** Parses and validates one playbook file; ConfigError lists every problem with file:line:column. */
export function parsePlaybook(text: string, file: string): Playbook {
  return parseYamlWith(text, file, playbookSchema).data;
}

function yamlFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return [];
    names = readdirSync(dir);
  } catch {
    // A configured directory that does not exist holds no playbooks (the default ./playbooks).
    return [];
  }
  return names
    .filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * Reads and validates every playbook: the built-ins first, then each directory. All files are
 * checked before any error is thrown, so one ConfigError lists every problem. Two files of one
 * directory set with the same id are an error; a configured playbook replaces a built-in one.
 */
export function loadPlaybooks(o: {
  dirs: readonly string[];
  builtins?: boolean;
  baseDir?: string;
}): Playbook[] {
  const base = o.baseDir ?? process.cwd();
  const builtinDir = resolve(builtinPlaybooksDir);
  const builtins = o.builtins ?? true;
  // The built-in directory named in `dirs` too (running from a checkout) is read once.
  const dirs = [...new Set(o.dirs.map((d) => resolve(base, d)))].filter((d) => !builtins || d !== builtinDir);
  const issues: ConfigIssue[] = [];
  const byId = new Map<string, { playbook: Playbook; file: string; builtin: boolean }>();
  const read = (file: string, builtin: boolean) => {
    try {
      const playbook = parsePlaybook(readFileSync(file, "utf8"), file);
      const prior = byId.get(playbook.id);
      if (prior && !prior.builtin)
        issues.push({
          file,
          line: 1,
          column: 1,
          path: "id",
          message: `playbook id '${playbook.id}' is also defined in ${prior.file}`,
        });
      else byId.set(playbook.id, { playbook, file, builtin });
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else issues.push({ file, line: 1, column: 1, path: "", message: (err as Error).message });
    }
  };
  if (builtins) for (const f of yamlFiles(builtinDir)) read(f, true);
  for (const d of dirs) for (const f of yamlFiles(d)) read(f, false);
  if (issues.length > 0) throw new ConfigError(issues);
  return [...byId.values()].map((v) => v.playbook);
}

// Reads `terraform show -json PLANFILE` output into the resources a plan leaves in place, with
// each value paired with Terraform's "known after apply" marks, so checks can tell "set to false"
// from "cannot tell yet" and never report an unknown value as a missing setting.
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";

/** A value in a plan paired with its `after_unknown` mark (true = known only after apply). */
export interface PlanValue {
  value: unknown;
  unknown: unknown;
}

/** What a check sees of an attribute: a known value, "known after apply", or absent (null/unset). */
export type Read = { state: "known"; value: unknown } | { state: "unknown" } | { state: "absent" };

/** One managed resource as the plan will leave it. */
export interface PlanResource {
  /** Full address: `module.net.aws_security_group.web[0]`. */
  address: string;
  type: string;
  name: string;
  /** `aws`, `google`, `azurerm`… from the type's prefix. */
  provider: string;
  /** Module path without instance keys: `module.net` (empty for the root module). */
  module: string;
  /** Planned actions (`create`, `update`, `no-op`, `delete`+`create`…). */
  actions: string[];
  root: PlanValue;
  /** The resource's configuration block (expressions with references), when the plan has it. */
  expressions?: Record<string, unknown>;
  /** The provider configuration it uses (`aws`, `aws.mumbai`), resolved to its expressions. */
  providerExpressions?: Record<string, unknown>;
}

/** A parsed plan: its resources and the variable values for resolving provider settings. */
export interface Plan {
  formatVersion: string;
  terraformVersion?: string;
  resources: PlanResource[];
  variables: Record<string, unknown>;
}

const record = z.record(z.string(), z.unknown());
const stateResource = z.looseObject({
  address: z.string(),
  mode: z.string().optional(),
  type: z.string(),
  name: z.string(),
  values: record.nullish(),
});
interface StateModule {
  resources?: z.infer<typeof stateResource>[];
  child_modules?: StateModule[];
}
const stateModule: z.ZodType<StateModule> = z.lazy(() =>
  z.looseObject({
    resources: z.array(stateResource).optional(),
    child_modules: z.array(stateModule).optional(),
  }),
);
const resourceChange = z.looseObject({
  address: z.string(),
  mode: z.string().optional(),
  type: z.string(),
  name: z.string(),
  change: z.looseObject({
    actions: z.array(z.string()),
    after: z.unknown().optional(),
    after_unknown: z.unknown().optional(),
  }),
});
const planSchema = z.looseObject({
  format_version: z.string(),
  terraform_version: z.string().optional(),
  variables: z.record(z.string(), z.looseObject({ value: z.unknown().optional() })).optional(),
  planned_values: z.looseObject({ root_module: stateModule.optional() }).optional(),
  resource_changes: z.array(resourceChange).optional(),
  configuration: record.optional(),
});

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    const lc = pos ? lineColumn(text, Number(pos[1])) : /line (\d+) column (\d+)/.exec(msg);
    const where = !lc
      ? file
      : Array.isArray(lc)
        ? `${file}:${lc[1]}:${lc[2]}`
        : `${file}:${lc.line}:${lc.column}`;
    throw new Invalid(`not valid JSON (${msg.replace(/^JSON\.parse: /, "")})`, where);
  }
}

/** Terraform module trees are a few levels deep; deeper is refused before recursive code overflows the stack. */
export const maxModuleDepth = 64;

interface Pending {
  node: unknown;
  steps: string[];
}

/** The child modules of a module in `planned_values` or in `configuration`, with the step to each. */
function childModules(node: unknown, inConfiguration: boolean): Pending[] {
  if (!node || typeof node !== "object") return [];
  if (!inConfiguration) {
    const children = (node as { child_modules?: unknown }).child_modules;
    return Array.isArray(children)
      ? children.map((c: unknown, i) => ({ node: c, steps: [`child_modules[${i}]`] }))
      : [];
  }
  const calls = (node as { module_calls?: unknown }).module_calls;
  if (!calls || typeof calls !== "object") return [];
  return Object.entries(calls as Record<string, unknown>).map(([name, call]) => ({
    node: (call as { module?: unknown } | null)?.module,
    steps: [`module_calls.${name}`, "module"],
  }));
}

/**
 * Refuses module trees nested deeper than maxModuleDepth, walking iteratively (the schema and the
 * walks below recurse once per level). The error names the path, its middle elided.
 */
function checkModuleDepth(raw: Record<string, unknown>, file: string): void {
  const roots: [unknown, string, boolean][] = [
    [
      (raw.planned_values as { root_module?: unknown } | null)?.root_module,
      "planned_values.root_module",
      false,
    ],
    [(raw.configuration as { root_module?: unknown } | null)?.root_module, "configuration.root_module", true],
  ];
  for (const [root, rootPath, inConfiguration] of roots) {
    const stack: (Pending & { depth: number })[] = [{ node: root, steps: [rootPath], depth: 0 }];
    for (let top = stack.pop(); top; top = stack.pop()) {
      if (top.depth > maxModuleDepth) {
        const shown =
          top.steps.length > 6 ? [...top.steps.slice(0, 3), "…", ...top.steps.slice(-2)] : top.steps;
        throw new Invalid(
          `not a Terraform plan (${shown.join(".")}: modules nest deeper than ${maxModuleDepth} levels)`,
          file,
        );
      }
      for (const c of childModules(top.node, inConfiguration))
        stack.push({ node: c.node, steps: [...top.steps, ...c.steps], depth: top.depth + 1 });
    }
  }
}

/** `module.a[0].module.b["x"].aws_s3_bucket.b[1]` → `module.a.module.b.aws_s3_bucket.b`. */
export function stripKeys(address: string): string {
  return address.replace(/\[[^\]]*\]/g, "");
}

function modulePath(address: string): string {
  const parts = stripKeys(address).split(".");
  const mods: string[] = [];
  for (let i = 0; i + 1 < parts.length && parts[i] === "module"; i += 2) mods.push(`module.${parts[i + 1]}`);
  return mods.join(".");
}

function providerOf(type: string): string {
  const p = type.split("_")[0] ?? type;
  return p === "google-beta" ? "google" : p;
}

interface ConfigIndex {
  resources: Map<string, { expressions?: Record<string, unknown>; providerKey?: string }>;
  providers: Record<string, Record<string, unknown>>;
}

function indexConfiguration(configuration: Record<string, unknown> | undefined): ConfigIndex {
  const resources: ConfigIndex["resources"] = new Map();
  // Null prototype: provider keys come from the plan (`__proto__` must be a key, not the prototype).
  const providers = Object.create(null) as ConfigIndex["providers"];
  if (!configuration) return { resources, providers };
  const pc = configuration.provider_config;
  if (pc && typeof pc === "object") {
    for (const [key, v] of Object.entries(pc as Record<string, unknown>)) {
      const ex = (v as { expressions?: unknown } | null)?.expressions;
      providers[key] = ex && typeof ex === "object" ? (ex as Record<string, unknown>) : {};
    }
  }
  const walk = (mod: unknown, prefix: string): void => {
    if (!mod || typeof mod !== "object") return;
    const m = mod as { resources?: unknown; module_calls?: unknown };
    if (Array.isArray(m.resources)) {
      for (const r of m.resources as Record<string, unknown>[]) {
        if (typeof r?.address !== "string") continue;
        resources.set(prefix ? `${prefix}.${r.address}` : r.address, {
          expressions: r.expressions as Record<string, unknown> | undefined,
          providerKey: typeof r.provider_config_key === "string" ? r.provider_config_key : undefined,
        });
      }
    }
    if (m.module_calls && typeof m.module_calls === "object") {
      for (const [name, call] of Object.entries(m.module_calls as Record<string, unknown>)) {
        const child = (call as { module?: unknown } | null)?.module;
        walk(child, prefix ? `${prefix}.module.${name}` : `module.${name}`);
      }
    }
  };
  walk(configuration.root_module, "");
  return { resources, providers };
}

/** Parses `terraform show -json` output of a saved plan; `file` names it in errors. */
export function parsePlan(text: string, file = "plan.json"): Plan {
  const raw = parseJson(text, file);
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new Invalid("expected a JSON object from `terraform show -json PLANFILE`", file);
  checkModuleDepth(raw as Record<string, unknown>, file);
  const parsed = planSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue ? issue.path.join(".") : "";
    throw new Invalid(
      `not a Terraform plan (${at ? `${at}: ` : ""}${issue?.message ?? "unexpected shape"})`,
      file,
    );
  }
  const p = parsed.data;
  if (!/^1\.\d+$/.test(p.format_version))
    throw new Invalid(`unsupported plan format_version '${p.format_version}' (expected 1.x)`, file);
  if (!p.planned_values && !p.resource_changes) {
    const isState = "values" in (raw as Record<string, unknown>);
    throw new Invalid(
      isState
        ? "this is a state file, not a plan: run `terraform plan -out=tfplan && terraform show -json tfplan`"
        : "not a Terraform plan: neither planned_values nor resource_changes is present",
      file,
    );
  }

  const config = indexConfiguration(p.configuration);
  const resources = new Map<string, PlanResource>();
  const add = (address: string, type: string, name: string, actions: string[], root: PlanValue): void => {
    const module = modulePath(address);
    const cfg = config.resources.get(stripKeys(address));
    const provider = providerOf(type);
    const key = cfg?.providerKey;
    const providerExpressions =
      (key !== undefined
        ? (config.providers[key] ?? config.providers[key.split(":").pop() ?? ""])
        : undefined) ??
      config.providers[provider] ??
      (provider === "google" ? config.providers["google-beta"] : undefined);
    resources.set(address, {
      address,
      type,
      name,
      provider,
      module,
      actions,
      root,
      expressions: cfg?.expressions,
      providerExpressions,
    });
  };

  const walk = (mod: StateModule | undefined): void => {
    if (!mod) return;
    for (const r of mod.resources ?? []) {
      if (r.mode !== undefined && r.mode !== "managed") continue;
      add(r.address, r.type, r.name, ["create"], { value: r.values ?? {}, unknown: {} });
    }
    for (const c of mod.child_modules ?? []) walk(c);
  };
  walk(p.planned_values?.root_module);

  // resource_changes carries after_unknown, so it wins over planned_values for the same address.
  for (const rc of p.resource_changes ?? []) {
    if (rc.mode !== undefined && rc.mode !== "managed") continue;
    const acts = rc.change.actions;
    if (!acts.includes("create") && !acts.includes("update") && !acts.includes("no-op")) {
      resources.delete(rc.address); // delete-only, forget, read: nothing left to judge
      continue;
    }
    add(rc.address, rc.type, rc.name, acts, {
      value: rc.change.after ?? {},
      unknown: rc.change.after_unknown ?? {},
    });
  }

  const variables = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(p.variables ?? {})) variables[k] = v.value;
  return {
    formatVersion: p.format_version,
    terraformVersion: p.terraform_version,
    resources: [...resources.values()],
    variables,
  };
}

/** Splits `a.b[0].c` into `["a", "b", 0, "c"]`. */
function keys(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

/** Steps into a value and its unknown marks together. */
export function child(v: PlanValue, key: string | number): PlanValue {
  if (v.unknown === true) return { value: undefined, unknown: true };
  const pick = (x: unknown): unknown =>
    x !== null && typeof x === "object" ? (x as Record<string | number, unknown>)[key] : undefined;
  return { value: pick(v.value), unknown: pick(v.unknown) };
}

/** Reads `path` (dotted, `[n]` for list items) under `v`. */
export function read(v: PlanValue, path = ""): Read {
  let cur = v;
  for (const k of keys(path)) cur = child(cur, k);
  if (cur.unknown === true) return { state: "unknown" };
  if (cur.value === undefined || cur.value === null) return { state: "absent" };
  return { state: "known", value: cur.value };
}

/** The items of a list or set attribute; `unknown` when the list itself is known only after apply. */
export function items(v: PlanValue, path: string): PlanValue[] | "unknown" {
  const r = read(v, path);
  if (r.state === "unknown") return "unknown";
  if (r.state === "absent" || !Array.isArray(r.value)) return [];
  let node = v;
  for (const k of keys(path)) node = child(node, k);
  return r.value.map((_, i) => child(node, i));
}

/** A known boolean, or undefined when unknown or absent. */
export function bool(v: PlanValue, path: string): boolean | undefined {
  const r = read(v, path);
  return r.state === "known" && typeof r.value === "boolean" ? r.value : undefined;
}

/** A known string, or undefined. */
export function str(v: PlanValue, path: string): string | undefined {
  const r = read(v, path);
  return r.state === "known" && typeof r.value === "string" ? r.value : undefined;
}

/** The references a configuration expression makes (`aws_s3_bucket.logs.id`, `var.region`). */
export function references(expressions: Record<string, unknown> | undefined, attr: string): string[] {
  const e = expressions?.[attr] as { references?: unknown } | undefined;
  return Array.isArray(e?.references) ? e.references.filter((x): x is string => typeof x === "string") : [];
}

/** A provider setting (`region`) as a constant or a root variable's value. */
export function providerSetting(plan: Plan, r: PlanResource, attr: string): string | undefined {
  const e = r.providerExpressions?.[attr] as { constant_value?: unknown; references?: unknown } | undefined;
  if (!e) return undefined;
  if (typeof e.constant_value === "string") return e.constant_value;
  if (Array.isArray(e.references)) {
    for (const ref of e.references) {
      const m = typeof ref === "string" ? /^var\.([\w-]+)$/.exec(ref) : null;
      const val = m ? plan.variables[m[1] as string] : undefined;
      if (typeof val === "string") return val;
    }
  }
  return undefined;
}

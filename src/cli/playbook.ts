// `rampart playbook`: incident playbooks through the running control plane's API — list and show
// them, run or dry-run one against an incident, follow its runs, tick a manual step's checklist —
// and `validate`, which checks playbook files offline (no server) with file:line:column errors, for CI.
import { existsSync, readFileSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { ConfigError, formatConfigIssue } from "../config/errors.ts";
import type { Playbook, RunRecord, StepRecord } from "../monitoring/playbooks/index.ts";
import { loadPlaybooks, parsePlaybook } from "../monitoring/playbooks/schema.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const enc = encodeURIComponent;
const minute = (iso: string | undefined) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");

/** Seconds as the playbook files write them: 90s, 15m, 4h, 7d. */
function span(seconds: number): string {
  for (const [unit, n] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const)
    if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}

/** `--input key=value`, repeatable. */
function inputArg(v: string, all: Record<string, string> = {}): Record<string, string> {
  const eq = v.indexOf("=");
  const key = eq > 0 ? v.slice(0, eq) : "";
  if (!/^[A-Za-z_][\w-]*$/.test(key))
    throw new InvalidArgumentError(`expected key=value with a plain key, e.g. ip=203.0.113.7; got '${v}'`);
  return { ...all, [key]: v.slice(eq + 1) };
}

function itemArg(v: string): number {
  if (!/^\d{1,2}$/.test(v)) throw new InvalidArgumentError("expected a checklist item number (0, 1, 2…)");
  return Number(v);
}

function limitArg(v: string): number {
  if (!/^[1-9]\d{0,3}$/.test(v) || Number(v) > 1000)
    throw new InvalidArgumentError("expected a whole number from 1 to 1000");
  return Number(v);
}

const glyph: Record<StepRecord["status"], string> = {
  done: "✓",
  checked: "✓",
  failed: "✗",
  waiting_manual: "○",
  skipped: "–",
  pending: "·",
};

type Summary = Pick<Playbook, "id" | "title" | "description" | "trigger"> & {
  steps: { id: string; phase: string; title: string; action?: string; manual?: boolean }[];
};

const listLine = (p: Summary) => {
  const manual = p.steps.filter((s) => s.manual).length;
  const trigger = p.trigger ? `on ${p.trigger.rules.join(", ")} at ${p.trigger.minPriority}+` : "by hand";
  return `  ${p.id.padEnd(30)} ${String(p.steps.length - manual).padStart(2)} automated ${String(manual).padStart(2)} manual  ${trigger.padEnd(40)} ${p.title}`;
};

/** One value of a step's parameters, on one line. */
const shown = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** A playbook as an outline: phases, then each step with its action or checklist. */
function outline(p: Playbook): string {
  const out = [`${p.id}  ${p.title}`];
  if (p.description)
    out.push(
      ...p.description
        .trim()
        .split("\n")
        .map((l) => `  ${l}`),
    );
  out.push(
    p.trigger
      ? `  runs on its own for ${p.trigger.rules.join(", ")} at ${p.trigger.minPriority} or more urgent`
      : "  runs only when started by hand",
  );
  const inputs = Object.keys(p.inputs);
  if (inputs.length > 0) out.push(`  inputs: ${inputs.join(", ")}`);
  let phase = "";
  for (const s of p.steps) {
    if (s.phase !== phase) {
      phase = s.phase;
      out.push("", phase);
    }
    const deadline = s.deadline !== undefined ? `  (within ${span(s.deadline)})` : "";
    if (s.manual) {
      out.push(`  ○ ${s.id}  ${s.title}  [manual]${deadline}`);
      (s.checklist ?? []).forEach((c, i) => out.push(`      ${i}. ${c}`));
    } else {
      out.push(`  ▷ ${s.id}  ${s.title}${deadline}`);
      out.push(`      ${s.action}${s.onError === "continue" ? "  (on error: continue)" : ""}`);
      if (s.when !== undefined) out.push(`      when ${s.when}`);
      for (const [k, v] of Object.entries(s.with ?? {})) out.push(`      ${k}: ${shown(v)}`);
    }
  }
  return out.join("\n");
}

/** A run: its status, then each step with ✓ done, ✗ failed, ○ waiting, – skipped, · not run. */
function runReport(r: RunRecord): string {
  const dry = r.status === "dry_run";
  const out = [
    `run ${r.id}  ${r.playbook}  ${dry ? "dry run (nothing was changed)" : r.status}`,
    `  started ${minute(r.startedAt)} by ${r.triggeredBy.label}${r.incident ? `  incident ${r.incident}` : ""}${r.endedAt ? `  ended ${minute(r.endedAt)}` : ""}`,
  ];
  let phase = "";
  for (const s of r.steps) {
    if (s.phase !== phase) {
      phase = s.phase;
      out.push(`  ${phase || "-"}`);
    }
    const due = s.dueAt && !dry ? `  due ${minute(s.dueAt)}${s.overdue ? " OVERDUE" : ""}` : "";
    const mark = dry && s.status === "pending" ? "▷" : glyph[s.status];
    let note = "";
    if (s.status === "failed") note = ` — ${s.error ?? "failed"}`;
    else if (s.status === "skipped") note = " (skipped: its condition is empty)";
    else if (s.status === "pending" && !dry) note = " (not run)";
    else if (s.checklist && s.status === "waiting_manual")
      note = ` (waiting: ${s.checklist.filter((c) => c.checked).length}/${s.checklist.length} checked)`;
    out.push(`    ${mark} ${s.step}  ${s.title}${note}${due}`);
    if (dry && s.status === "pending" && s.action) {
      out.push(`        ${s.action}`);
      const params = (s.result as { with?: Record<string, unknown> } | undefined)?.with ?? {};
      for (const [k, v] of Object.entries(params)) out.push(`        ${k}: ${shown(v)}`);
    }
    if (s.checklist && s.status !== "skipped")
      s.checklist.forEach((c, i) =>
        out.push(`        ${i}. [${c.checked ? "x" : " "}] ${c.item}${c.by ? `  (${c.by})` : ""}`),
      );
  }
  return out.join("\n");
}

const runsLine = (r: RunRecord) => {
  const settled = r.steps.filter((s) => ["done", "checked", "skipped"].includes(s.status)).length;
  return `  ${r.id}  ${r.playbook.padEnd(28)} ${r.status.padEnd(9)} ${minute(r.startedAt)}  ${(r.incident ?? "-").padEnd(14)} ${`${settled}/${r.steps.length}`.padStart(5)}  ${r.triggeredBy.label}`;
};

/** Validates a playbook file, or every `*.yaml` in a directory, without a server. */
function validate(target: string, o: { json?: boolean }): void {
  const abs = resolve(target);
  if (!existsSync(abs)) throw new Error(`no such file or directory: ${target}`);
  // Paths as the user would type them: relative below the working directory, else absolute.
  const shortName = (file: string) => {
    const rel = relative(process.cwd(), file);
    return rel && !rel.startsWith("..") ? rel : file;
  };
  try {
    const playbooks = statSync(abs).isDirectory()
      ? loadPlaybooks({ dirs: [abs], builtins: false })
      : [parsePlaybook(readFileSync(abs, "utf8"), shortName(abs))];
    if (playbooks.length === 0) {
      if (o.json) console.log(JSON.stringify({ valid: false, target, playbooks: [], issues: [] }));
      else console.error(`${target}: no playbooks (*.yaml, *.yml) found`);
      process.exitCode = 1;
      return;
    }
    const ids = playbooks.map((p) => p.id);
    if (o.json) console.log(JSON.stringify({ valid: true, target, playbooks: ids }, null, 2));
    else
      console.log(
        `${target}: ${ids.length} playbook${ids.length === 1 ? "" : "s"} valid (${ids.join(", ")})`,
      );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const issues = err.issues.map((i) => ({ ...i, file: shortName(i.file) }));
    if (o.json) console.log(JSON.stringify({ valid: false, target, issues }, null, 2));
    else {
      for (const i of issues) console.error(formatConfigIssue(i));
      console.error(`${issues.length} error${issues.length === 1 ? "" : "s"} in ${target}`);
    }
    process.exitCode = 1;
  }
}

/** Registers `rampart playbook …` on `program`. */
export function registerPlaybookCommands(program: Command): void {
  const playbook = program
    .command("playbook")
    .description(
      "incident playbooks: list, show, run or dry-run, follow runs, tick checklists; validate files",
    );

  commonOptions(playbook.command("list"))
    .description("the playbooks in force, with what starts them")
    .action(async (o: Common) => {
      const { playbooks } = await (await apiFor(o))<{ playbooks: Summary[] }>("GET", "/api/v1/playbooks");
      print(o, playbooks, playbooks.length === 0 ? "no playbooks" : playbooks.map(listLine).join("\n"));
    });

  commonOptions(playbook.command("show <id>"))
    .description("one playbook as an outline: phases, steps, actions and checklists")
    .action(async (id: string, o: Common) => {
      const p = await (await apiFor(o))<Playbook>("GET", `/api/v1/playbooks/${enc(id)}`);
      print(o, p, outline(p));
    });

  commonOptions(playbook.command("run <id>"))
    .description(
      "run a playbook (against an incident); --dry-run shows each step's resolved parameters and changes nothing",
    )
    .option("--incident <id>", "the incident it runs for (its priority and id reach the steps)")
    .option("--input <key=value>", "an input value, winning over the playbook's own (repeatable)", inputArg)
    .option("--dry-run", "resolve and check every step, run nothing")
    .action(
      async (
        id: string,
        o: Common & { incident?: string; input?: Record<string, string>; dryRun?: boolean },
      ) => {
        const r = await (
          await apiFor(o)
        )<RunRecord>("POST", `/api/v1/playbooks/${enc(id)}/run`, {
          ...(o.incident ? { incident: o.incident } : {}),
          ...(o.input ? { inputs: o.input } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
        });
        print(o, r, runReport(r));
        // A run stopped by a failed step is worth a non-zero exit in scripts.
        if (r.status === "failed") process.exitCode = 1;
      },
    );

  commonOptions(playbook.command("runs"))
    .description("playbook runs, newest first")
    .option("--incident <id>", "only the runs for this incident")
    .option("--limit <n>", "at most this many (default 100)", limitArg)
    .action(async (o: Common & { incident?: string; limit?: number }) => {
      const q = new URLSearchParams();
      if (o.incident) q.set("incident", o.incident);
      if (o.limit) q.set("limit", String(o.limit));
      const { runs } = await (
        await apiFor(o)
      )<{ runs: RunRecord[] }>("GET", `/api/v1/playbook-runs${q.size > 0 ? `?${q}` : ""}`);
      print(o, runs, runs.length === 0 ? "no playbook runs" : runs.map(runsLine).join("\n"));
    });

  commonOptions(playbook.command("run-status <run>"))
    .alias("show-run")
    .description("one run: each step's status, result or error, deadline and checklist")
    .action(async (run: string, o: Common) => {
      const r = await (await apiFor(o))<RunRecord>("GET", `/api/v1/playbook-runs/${enc(run)}`);
      print(o, r, runReport(r));
    });

  commonOptions(playbook.command("check <run> <step>"))
    .description("tick a manual step's checklist: one item (--item N, from 0) or all of it")
    .option("--item <n>", "the item's number as run-status shows it (default: every item)", itemArg)
    .action(async (run: string, step: string, o: Common & { item?: number }) => {
      const r = await (
        await apiFor(o)
      )<RunRecord>(
        "POST",
        `/api/v1/playbook-runs/${enc(run)}/steps/${enc(step)}/check`,
        o.item !== undefined ? { item: o.item } : {},
      );
      const s = r.steps.find((x) => x.step === step);
      const ticked = s?.checklist?.filter((c) => c.checked).length ?? 0;
      print(
        o,
        r,
        `${step}: ${ticked}/${s?.checklist?.length ?? 0} checked${s?.status === "checked" ? " (step done)" : ""}; run ${r.status}`,
      );
    });

  playbook
    .command("validate <path>")
    .description("check a playbook file, or every *.yaml in a directory, offline; errors as file:line:column")
    .option("--json", "machine-readable output")
    .action((target: string, o: { json?: boolean }) => validate(target, o));
}

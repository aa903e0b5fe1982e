// `rampart detect`: the detection rules in force on the running server with what each has fired,
// and `detect test`, which replays a file of events through the rules offline (no server, no
// database) on a clock that follows the events, so a team can unit-test its rules in CI:
// detection rules as code.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  ConfigError,
  type ConfigIssue,
  defaultConfig,
  formatConfigIssue,
  loadConfig,
} from "../config/index.ts";
import { environmentSchema } from "../config/schema.ts";
import { keyPath, readYaml } from "../config/yaml.ts";
import {
  createDetector,
  type DetectConfig,
  type Detection,
  detectRules,
  type Rule,
  ruleSchema,
} from "../monitoring/detect/index.ts";
import { manualClock } from "../platform/clock.ts";
import { type SecurityEvent, securityEventSchema } from "../platform/events/index.ts";
import type { RuleView } from "../server/response-routes.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

/** A rule's condition in a few words: `count ≥ 10 / 5m by actor, actorKind`. */
export function conditionSummary(r: Pick<Rule, "condition" | "groupBy">): string {
  const c = r.condition;
  const names = Object.keys(r.groupBy);
  const by = names.length > 0 ? ` by ${names.join(", ")}` : "";
  switch (c.kind) {
    case "count":
      return `count ≥ ${c.threshold} / ${c.window}${by}`;
    case "distinct":
      return `distinct ${c.field} ≥ ${c.threshold} / ${c.window}${by}`;
    case "first_seen":
      return `new ${c.field} (remembered ${c.remember})${by}`;
    case "each":
      return `each event${by}`;
  }
}

/** Paths as the user typed them: relative below the working directory, else absolute. */
const shortName = (file: string) => {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
};

const segments = (path: readonly PropertyKey[]) =>
  path.filter((p): p is string | number => typeof p !== "symbol");

/**
 * Rules from a YAML file: a list of rules or `{ rules: [...] }`, each checked against the rule
 * schema; ConfigError locates every problem by file:line:column.
 */
export function parseRulesFile(text: string, file: string): Rule[] {
  const yaml = readYaml(text, file);
  const value: unknown = yaml.data();
  const wrapped = value !== null && typeof value === "object" && !Array.isArray(value);
  const list: unknown = wrapped ? (value as Record<string, unknown>).rules : value;
  if (!Array.isArray(list))
    throw new ConfigError([
      yaml.issueAtOffset(0, "", "expected a list of rules, or a mapping with `rules:` holding one"),
    ]);
  if (wrapped) {
    const extra = Object.keys(value).filter((k) => k !== "rules");
    if (extra.length > 0)
      throw new ConfigError([
        yaml.issueAtOffset(0, extra[0] as string, "unknown key (a rules file holds only `rules:`)"),
      ]);
  }
  const prefix: (string | number)[] = wrapped ? ["rules"] : [];
  const issues: ConfigIssue[] = [];
  const locate = (path: (string | number)[], message: string) => issues.push(yaml.issueAt(path, message));
  const rules: Rule[] = [];
  const ids = new Set<string>();
  list.forEach((raw, i) => {
    const r = ruleSchema.safeParse(raw);
    if (!r.success) {
      for (const issue of r.error.issues) locate([...prefix, i, ...segments(issue.path)], issue.message);
      return;
    }
    if (ids.has(r.data.id)) locate([...prefix, i, "id"], `the rule id ${r.data.id} is used twice`);
    ids.add(r.data.id);
    rules.push(r.data);
  });
  if (issues.length > 0)
    throw new ConfigError(issues.toSorted((a, b) => a.line - b.line || a.column - b.column));
  return rules;
}

/** Events from JSON lines, each checked against the event schema; ConfigError names the line. */
export function parseEventLines(text: string, file: string): SecurityEvent[] {
  const events: SecurityEvent[] = [];
  const issues: ConfigIssue[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      issues.push({
        file,
        line: i + 1,
        column: 1,
        path: "",
        message: `not JSON (${(err as Error).message})`,
      });
      return;
    }
    const r = securityEventSchema.safeParse(value);
    if (r.success) events.push(r.data);
    else {
      const issue = r.error.issues[0];
      issues.push({
        file,
        line: i + 1,
        column: 1,
        path: keyPath(segments(issue?.path ?? [])),
        message: `${issue?.message ?? "not a security event"}`,
      });
    }
  });
  // Twenty is enough to see the pattern; a wrong file would otherwise print every line.
  if (issues.length > 0) throw new ConfigError(issues.slice(0, 20));
  return events;
}

export interface ReplayResult {
  events: number;
  rules: string[];
  detections: Detection[];
}

/**
 * Replays events through `rules` on a manual clock that follows the events' times (never going
 * back), one event at a time, as the server would see them arrive.
 */
export function replayEvents(o: {
  rules: readonly Rule[];
  events: readonly SecurityEvent[];
  environment: string;
}): ReplayResult {
  const first = o.events[0]?.time ?? new Date(0).toISOString();
  const clock = manualClock(first);
  const rules = o.rules;
  const detector = createDetector({
    rules: () => rules,
    clock,
    environment: () => o.environment,
    onDetection: () => {},
  });
  const detections: Detection[] = [];
  for (const e of o.events) {
    const t = Date.parse(e.time);
    if (t > clock.now().getTime()) clock.set(new Date(t));
    detections.push(...detector.process([e]));
  }
  return { events: o.events.length, rules: rules.map((r) => r.id), detections };
}

const groupText = (g: Record<string, string>) =>
  Object.entries(g)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ") || "-";

const detectionLine = (d: Detection) =>
  `  ${d.firedAt.slice(0, 19).replace("T", " ")}  ${d.rule.padEnd(28)} ${d.priority}  ${groupText(d.group).padEnd(30)} ${d.summary}`;

const ruleLine = (r: RuleView) =>
  `  ${r.id.padEnd(28)} ${r.priority}  ${r.source.padEnd(7)} ${conditionSummary(r).padEnd(44)} ${String(r.stats.fired).padStart(6)} fired  ${r.stats.matched} matched${r.stats.errors > 0 ? `  ${r.stats.errors} ERRORS` : ""}`;

const repeat = (v: string, all: string[]) => [...all, v];

function environmentArg(v: string): string {
  const r = environmentSchema.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(`expected one of ${environmentSchema.options.join(", ")}`);
  return r.data;
}

interface TestOptions {
  events: string;
  config?: string;
  rules?: string;
  builtin: boolean;
  environment?: string;
  expect: string[];
  expectNone?: boolean;
  json?: boolean;
}

async function detectTest(o: TestOptions): Promise<void> {
  // Only the sections a replay needs: the rest of the config (and its secret references) stays unread.
  const config = o.config
    ? await loadConfig(o.config, { only: ["version", "environment", "detect"] })
    : defaultConfig();
  let fileRules: Rule[] = [];
  if (o.rules) {
    let text: string;
    try {
      text = readFileSync(o.rules, "utf8");
    } catch (err) {
      throw new Error(`--rules ${o.rules}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`, {
        cause: err,
      });
    }
    fileRules = parseRulesFile(text, shortName(o.rules));
  }
  let text: string;
  try {
    text = readFileSync(o.events, "utf8");
  } catch (err) {
    throw new Error(`--events ${o.events}: cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`, {
      cause: err,
    });
  }
  const events = parseEventLines(text, shortName(o.events));

  // The file's rules replace the config's (and the built-ins) of the same id.
  const fromFile = new Set(fileRules.map((r) => r.id));
  const detect: DetectConfig = {
    ...config.detect,
    builtin: config.detect.builtin && o.builtin,
    rules: [...config.detect.rules.filter((r) => !fromFile.has(r.id)), ...fileRules],
  };
  const rules = detectRules(detect);
  const known = new Set(rules.map((r) => r.id));
  const unknown = o.expect.filter((id) => !known.has(id));
  if (unknown.length > 0)
    throw new Error(`--expect: no rule ${unknown.map((u) => `'${u}'`).join(", ")} among the rules in force`);

  const result = replayEvents({ rules, events, environment: o.environment ?? config.environment });
  const fired = new Set(result.detections.map((d) => d.rule));
  const missing = o.expect.filter((id) => !fired.has(id));
  const failures = [
    ...missing.map((id) => `expected ${id} to fire; it did not`),
    ...(o.expectNone && result.detections.length > 0
      ? [`expected no detection; ${result.detections.length} fired (${[...fired].join(", ")})`]
      : []),
  ];
  if (o.json)
    console.log(
      JSON.stringify(
        {
          ok: failures.length === 0,
          events: result.events,
          rules: result.rules,
          detections: result.detections,
          failures,
        },
        null,
        2,
      ),
    );
  else {
    const out = result.detections.map(detectionLine);
    out.push(
      `${result.detections.length} detection${result.detections.length === 1 ? "" : "s"} from ${result.events} event${result.events === 1 ? "" : "s"} (${result.rules.length} rules)`,
    );
    console.log(out.join("\n"));
    for (const f of failures) console.error(`FAIL ${f}`);
  }
  if (failures.length > 0) process.exitCode = 1;
}

/** Registers `rampart detect …` on `program`. */
export function registerDetectCommands(program: Command): void {
  const detect = program
    .command("detect")
    .description(
      "detection rules: the rules in force and what they fired; test rules offline against events",
    );

  commonOptions(detect.command("rules"))
    .description("the rules in force on the running server: priority, condition, detections fired")
    .action(async (o: Common) => {
      const { rules } = await (await apiFor(o))<{ rules: RuleView[] }>("GET", "/api/v1/detect/rules");
      print(o, rules, rules.length === 0 ? "no detection rules in force" : rules.map(ruleLine).join("\n"));
    });

  detect
    .command("test")
    .description(
      "replay events (one JSON SecurityEvent a line) through the rules offline and print the detections; exit 1 when an expectation fails",
    )
    .requiredOption("--events <file>", "events as JSON lines")
    .option("-c, --config <file>", "rampart.yaml whose detect section (and environment) to use")
    .option(
      "--rules <file>",
      "extra rules (YAML: a list, or `rules:` holding one); they replace rules of the same id",
    )
    .option("--no-builtin", "leave out the built-in rules")
    .option("--environment <env>", "the environment rules see (default: the config's)", environmentArg)
    .option("--expect <rule>", "fail unless this rule fires (repeatable)", repeat, [])
    .option("--expect-none", "fail if anything fires")
    .option("--json", "machine-readable output")
    .action(async (o: TestOptions) => {
      try {
        await detectTest(o);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        // Bad input is not a failed expectation: 2, so CI can tell a broken test from a broken rule.
        if (o.json) console.log(JSON.stringify({ ok: false, issues: err.issues }, null, 2));
        else for (const i of err.issues) console.error(formatConfigIssue(i));
        process.exitCode = 2;
      }
    });
}

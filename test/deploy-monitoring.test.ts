// The Grafana dashboards and Prometheus rules in deploy/ against the code that runs: every metric
// and label they query is one a Rampart process registers, every expression parses (promtool),
// the alerts fire when they should (promtool test rules), and every dashboard loads the same way
// (a `${datasource}` variable, no hard-coded data source, unique panel ids, a query per target).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Registry } from "prom-client";
import { afterAll, describe, expect, test } from "vitest";
import { parse } from "yaml";
import { rampartConfigSchema } from "../src/config/index.ts";
import { createGatewayMetrics } from "../src/network/gateway/decisions.ts";
import { loadCertificates } from "../src/network/gateway/tls.ts";
import { manualClock } from "../src/platform/clock.ts";
import { createLogger } from "../src/platform/logging.ts";
import { startRuntime } from "../src/server/runtime.ts";

const root = resolve(import.meta.dirname, "..");
const grafanaDir = join(root, "deploy/grafana");
const prometheusDir = join(root, "deploy/prometheus");
const dashboardFiles = readdirSync(grafanaDir).filter((f) => f.endsWith(".json"));
const rulesFile = join(prometheusDir, "rampart-alerts.yaml");

// ---------------------------------------------------------------------------------------------
// What the processes register: metric name → label names.

/** The registry of a real control plane (PGlite in a temporary directory), as `rampart server` builds it. */
async function serverRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), "rampart-metrics-"));
  const rt = await startRuntime({
    config: rampartConfigSchema.parse({ version: 1, database: { dataDir: join(dir, "data") } }),
    logger: createLogger({ level: "silent" }),
  });
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
  return rt.metrics.registry;
}
const serverMetrics = await serverRegistry();

/** Series Prometheus makes itself, with the target labels of prometheus.yml. */
const synthesized: Record<string, readonly string[]> = { up: [] };
/** Labels Prometheus adds to every scraped series. */
const targetLabels = ["job", "instance"];

interface Registered {
  labels: readonly string[];
  histogram: boolean;
}

/** Every metric the server (`rampart up` included) and a standalone gateway register. */
function registered(): Map<string, Registered> {
  const clock = manualClock();
  // The server's registry, plus what `rampart up` adds to it (the gateway in the same process).
  const server = { registry: serverMetrics };
  createGatewayMetrics(server.registry, () => []);
  loadCertificates([], { minVersion: "TLSv1.2", clock, registry: server.registry }).close();
  // A standalone gateway's registry (src/cli/gateway-metrics.ts).
  const gateway = new Registry();
  createGatewayMetrics(gateway, () => []);

  const names = new Map<string, Registered>();
  for (const registry of [server.registry, gateway])
    for (const m of registry.getMetricsAsArray()) {
      const metric = m as unknown as { name: string; labelNames?: string[]; type?: string };
      names.set(metric.name, {
        labels: metric.labelNames ?? [],
        histogram: m.constructor.name === "Histogram",
      });
    }
  for (const [name, labels] of Object.entries(synthesized)) names.set(name, { labels, histogram: false });
  return names;
}

// ---------------------------------------------------------------------------------------------
// PromQL: the selectors an expression uses.

/** Clauses whose parenthesised list holds label names, not expressions. */
const labelLists = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
/** Aggregations may come before their `by (…)`: `sum by (le) (…)`. */
const aggregations = [
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
];
const keywords = new Set([
  ...labelLists,
  ...aggregations,
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "atan2",
  "inf",
  "nan",
]);

interface Selector {
  metric: string;
  labels: string[];
}

/** The metric selectors in a PromQL expression: name and the label names it matches on. */
function selectorsOf(expr: string): Selector[] {
  const out: Selector[] = [];
  let i = 0;
  const skipString = () => {
    const quote = expr[i];
    i++;
    while (i < expr.length && expr[i] !== quote) i += expr[i] === "\\" ? 2 : 1;
    i++;
  };
  const skipTo = (close: string) => {
    while (i < expr.length && expr[i] !== close) {
      if (expr[i] === '"' || expr[i] === "'" || expr[i] === "`") skipString();
      else i++;
    }
    i++;
  };
  const nextChar = () => {
    let j = i;
    while (/\s/.test(expr[j] ?? "")) j++;
    return { c: expr[j], at: j };
  };
  while (i < expr.length) {
    const c = expr[i] as string;
    if (c === '"' || c === "'" || c === "`") skipString();
    else if (c === "[") skipTo("]");
    else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+(?:[eE][+-]?[0-9]+)?[a-zA-Z]*/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const ident = (/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i)) as RegExpExecArray)[0];
      i += ident.length;
      const next = nextChar();
      if (labelLists.has(ident) && next.c === "(") {
        i = next.at + 1;
        skipTo(")");
      } else if (keywords.has(ident.toLowerCase()) || next.c === "(") {
        // an operator, or a function / aggregation name
      } else if (next.c === "{") {
        const start = next.at + 1;
        i = start;
        skipTo("}");
        const body = expr.slice(start, i - 1).replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, "");
        out.push({
          metric: ident,
          labels: [...body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] as string),
        });
      } else out.push({ metric: ident, labels: [] });
    } else i++;
  }
  return out;
}

/** Label names an expression groups or joins on (`by (a, b)`, `on (c)`, …). */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap(
    (m) =>
      (m[1] as string)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
  );
}

// ---------------------------------------------------------------------------------------------
// The files.

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { refId: string; expr?: string; datasource?: { uid?: string } }[];
  fieldConfig?: { defaults?: { unit?: string } };
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid?: string } }[] };
  panels: Panel[];
}

const dashboards = dashboardFiles.map((f) => ({
  file: f,
  json: JSON.parse(readFileSync(join(grafanaDir, f), "utf8")) as Dashboard,
}));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const ruleGroups = (parse(readFileSync(rulesFile, "utf8")) as { groups: { name: string; rules: Rule[] }[] })
  .groups;
const alerts = ruleGroups.flatMap((g) => g.rules);

/** Every PromQL expression in deploy/, named by where it is. */
function expressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const { file, json } of dashboards) {
    for (const p of allPanels(json))
      for (const t of p.targets ?? [])
        out.push({ where: `${file} "${p.title}" ${t.refId}`, expr: t.expr ?? "" });
    for (const v of json.templating.list)
      if (v.type === "query") {
        const q = typeof v.query === "string" ? v.query : (v.query as { query: string }).query;
        const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q);
        expect(m, `${file} variable ${v.name}: expected label_values(selector, label)`).not.toBeNull();
        out.push({ where: `${file} variable ${v.name}`, expr: `sum by (${m?.[2]}) (${m?.[1]})` });
      }
  }
  for (const r of alerts) out.push({ where: `rampart-alerts.yaml ${r.alert ?? r.record}`, expr: r.expr });
  return out;
}

function allPanels(d: { panels?: Panel[] }): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...allPanels(p)]);
}

/** Grafana's variables, replaced by values Prometheus accepts. */
const grafanaVariables = (expr: string) =>
  expr
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__interval", "1m")
    .replaceAll("$__range", "6h")
    .replace(/\$\{?[a-zA-Z_]+\}?/g, ".*");

// CI must check PromQL for real; a developer without Debian's prometheus package skips it.
if (spawnSync("promtool", ["--version"]).status !== 0)
  throw new Error("promtool is missing: apt-get install prometheus (see the README's set-up)");

const work = mkdtempSync(join(tmpdir(), "rampart-monitoring-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------

describe("metrics the dashboards and rules query", () => {
  const names = registered();

  test.each(expressions())("$where", ({ expr }) => {
    const selectors = selectorsOf(grafanaVariables(expr));
    expect(selectors.length, "queries no metric").toBeGreaterThan(0);
    for (const s of selectors) {
      let metric = names.get(s.metric);
      const base = s.metric.replace(/_(bucket|sum|count)$/, "");
      if (!metric && base !== s.metric && names.get(base)?.histogram) metric = names.get(base);
      expect(metric, `${s.metric} is not registered by any Rampart process`).toBeDefined();
      const known = [
        ...(metric?.labels ?? []),
        ...targetLabels,
        ...(s.metric.endsWith("_bucket") ? ["le"] : []),
      ];
      for (const l of s.labels) expect(known, `${s.metric} has no label ${l}`).toContain(l);
    }
    // A `by (x)` must name a label one of the selectors has (or le, or a target label).
    const all = new Set([
      ...targetLabels,
      "le",
      ...selectors.flatMap((s) => names.get(s.metric.replace(/_(bucket|sum|count)$/, ""))?.labels ?? []),
      ...selectors.flatMap((s) => names.get(s.metric)?.labels ?? []),
    ]);
    for (const l of groupingLabels(expr)) expect([...all], `grouping by unknown label ${l}`).toContain(l);
  });

  test("rates and quantiles are taken the right way round", () => {
    for (const { where, expr } of expressions()) {
      // rate() of a gauge, or histogram_quantile() without `le`, draws nonsense without an error.
      for (const m of expr.matchAll(/\b(?:rate|increase)\(\s*([a-z_:][a-z0-9_:]*)/g))
        expect(m[1], `${where}: rate/increase of a non-counter`).toMatch(/_(total|bucket|sum|count)$/);
      if (expr.includes("histogram_quantile"))
        expect(groupingLabels(expr), `${where}: histogram_quantile must keep le`).toContain("le");
      if (/_(bucket|sum|count)\b/.test(expr))
        expect(expr, `${where}: histogram series outside rate/increase`).toMatch(/(rate|increase)\(/);
    }
  });

  test("the selector parser finds names and labels, not functions or grouping labels", () => {
    expect(
      selectorsOf(
        'histogram_quantile(0.95, sum by (route, le) (rate(a_bucket{route=~"x|y"}[5m]))) / on (route) group_left b > 1e-3 unless c offset 5m',
      ),
    ).toEqual([
      { metric: "a_bucket", labels: ["route"] },
      { metric: "b", labels: [] },
      { metric: "c", labels: [] },
    ]);
  });
});

describe("dashboards", () => {
  test.each(dashboards)(
    "$file loads with a data source variable and no hard-coded data source",
    ({ file, json }) => {
      expect(json.uid).toBe(`rampart-${file.replace(/\.json$/, "")}`);
      expect(json.title).toMatch(/^Rampart \/ /);
      expect(json.schemaVersion).toBeGreaterThanOrEqual(39);
      const ds = json.templating.list.find((v) => v.name === "datasource");
      expect(ds).toMatchObject({ type: "datasource", query: "prometheus" });
      // Any data source uid spelled out would break on every Grafana but the author's.
      const text = readFileSync(join(grafanaDir, file), "utf8");
      for (const m of text.matchAll(/"uid":\s*"([^"]*)"/g))
        if (m[1] !== json.uid) expect(m[1]).toBe("${datasource}");

      const panels = allPanels(json);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, "panel ids are unique").toBe(ids.length);
      for (const p of panels.filter((p) => p.type !== "row")) {
        expect(p.datasource, `${p.title}: datasource`).toEqual({ type: "prometheus", uid: "${datasource}" });
        expect(p.fieldConfig?.defaults?.unit, `${p.title}: unit`).toBeTruthy();
        expect(p.targets?.length, `${p.title}: targets`).toBeGreaterThan(0);
        const refIds = (p.targets ?? []).map((t) => t.refId);
        expect(new Set(refIds).size).toBe(refIds.length);
        for (const t of p.targets ?? []) {
          expect(t.expr?.trim(), `${p.title} ${t.refId}: expr`).toBeTruthy();
          expect(t.datasource?.uid).toBe("${datasource}");
        }
      }
    },
  );

  test("the five dashboards are there, with distinct uids", () => {
    expect(dashboardFiles.sort()).toEqual([
      "compliance.json",
      "edge.json",
      "identity.json",
      "incidents.json",
      "secrets.json",
    ]);
    expect(new Set(dashboards.map((d) => d.json.uid)).size).toBe(dashboards.length);
  });

  test("every panel's PromQL parses (promtool)", () => {
    const rules = expressions()
      .filter((e) => !e.where.startsWith("rampart-alerts.yaml"))
      .map((e, i) => ({ record: `dashboard:query_${i}:check`, expr: grafanaVariables(e.expr) }));
    const file = join(work, "dashboards.rules.yaml");
    writeFileSync(file, JSON.stringify({ groups: [{ name: "dashboards", rules }] }));
    const r = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
    expect(r.stdout + r.stderr, "promtool check rules").toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });
});

describe("alerting rules", () => {
  test("parse and pass their unit tests (promtool)", () => {
    const check = spawnSync("promtool", ["check", "rules", rulesFile], { encoding: "utf8" });
    expect(check.stdout + check.stderr).toContain("SUCCESS");
    expect(check.status).toBe(0);
    const unit = spawnSync("promtool", ["test", "rules", "rampart-alerts.test.yaml"], {
      cwd: prometheusDir,
      encoding: "utf8",
    });
    expect(unit.stdout + unit.stderr, "promtool test rules").toContain("SUCCESS");
    expect(unit.status).toBe(0);
    const config = spawnSync("promtool", ["check", "config", "prometheus.yml"], {
      cwd: prometheusDir,
      encoding: "utf8",
    });
    expect(config.stdout + config.stderr, "promtool check config").toContain("SUCCESS");
    expect(config.status).toBe(0);
  });

  test("each alert has a wait, a severity, a summary, a description and a runbook", () => {
    const names = alerts.map((r) => r.alert);
    expect(new Set(names).size, "alert names are unique").toBe(names.length);
    for (const r of alerts) {
      expect(r.alert, "only alerting rules here").toMatch(/^Rampart[A-Z][A-Za-z0-9]+$/);
      expect(["critical", "warning", "info"], `${r.alert}: severity`).toContain(r.labels?.severity);
      expect(r.annotations?.summary, `${r.alert}: summary`).toBeTruthy();
      expect(r.annotations?.description, `${r.alert}: description`).toBeTruthy();
      expect(r.annotations?.runbook_url, `${r.alert}: runbook_url`).toMatch(
        /^docs\/[a-z0-9-]+\.md#[a-z0-9-]+$/,
      );
      // A counter's increase is an event: firing at once is right; a level needs time to settle.
      if (!/\bincrease\(/.test(r.expr)) expect(r.for, `${r.alert}: for`).toMatch(/^\d+[smh]$/);
    }
  });

  test("runbook links point at sections that exist", () => {
    const slug = (heading: string) =>
      heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-");
    for (const r of alerts) {
      const [file, anchor] = (r.annotations?.runbook_url as string).split("#") as [string, string];
      const headings = readFileSync(join(root, file), "utf8")
        .split("\n")
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) => slug(l.replace(/^#+ /, "")));
      expect(headings, `${r.alert}: ${file}#${anchor}`).toContain(anchor);
    }
  });
});

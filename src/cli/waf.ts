// `rampart waf test`: one request, or a JSONL file of them (the format of the WAF evaluation sets:
// method, uri, headers, body, and optionally id, label, category), through the WAF engine; prints
// each match and the score, and for labelled files how many attacks were caught and benign blocked.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import {
  createBuiltInWaf,
  type InspectedRequest,
  type Waf,
  type WafPolicy,
  type WafVerdict,
} from "../network/waf/index.ts";
import { loadConfig } from "../config/index.ts";
import { progressBar } from "./progress.ts";
import { registerWafTuneCommand } from "./waf-tune.ts";

interface TestOptions {
  uri?: string;
  method: string;
  header: string[];
  body?: string;
  file?: string;
  paranoia?: string;
  threshold?: string;
  config?: string;
  route?: string;
  json?: boolean;
}

interface Recorded {
  id?: string;
  label?: string;
  category?: string;
  method?: string;
  uri?: string;
  headers?: Record<string, string>;
  body?: string | null;
}

function toRequest(r: Recorded, where: string): InspectedRequest {
  // Any request-target form is inspected as sent: origin (/a?b), absolute, authority, asterisk.
  if (typeof r.uri !== "string" || r.uri === "") throw new Error(`${where}: uri is missing`);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
  return {
    method: r.method ?? "GET",
    path: r.uri,
    headers,
    ...(typeof r.body === "string" && r.body.length > 0 ? { body: Buffer.from(r.body) } : {}),
  };
}

const describe = (v: WafVerdict) =>
  v.matches.length === 0
    ? "no match"
    : v.matches
        .map(
          (m) =>
            `${m.rule} (PL${m.paranoia}, ${m.severity}) at ${m.target}${m.targets > 1 ? ` +${m.targets - 1}` : ""}`,
        )
        .join("; ");

/** The WAF policy of the route `--route` names in the `-c` config. */
async function routePolicy(o: TestOptions): Promise<WafPolicy | undefined> {
  if (!o.config && !o.route) return undefined;
  if (!o.config || !o.route) throw new Error("--config and --route go together");
  const config = await loadConfig(o.config);
  const route = config.routes.find((r) => r.path === o.route);
  if (!route)
    throw new Error(
      `--route: ${o.config} has no route with path '${o.route}' (it has ${config.routes.map((r) => r.path).join(", ") || "none"})`,
    );
  if (!route.waf) throw new Error(`--route: the route '${o.route}' in ${o.config} has no waf section`);
  return route.waf;
}

export function registerWafCommands(program: Command): void {
  const waf = program.command("waf").description("the web application firewall: try requests against it");
  waf
    .command("test")
    .description("run one request (--uri) or a JSONL file of requests (--file) through the WAF")
    .option("--uri <path>", "request target, e.g. '/search?q=1%27+OR+1=1'")
    .option("-X, --method <method>", "request method", "GET")
    .option(
      "-H, --header <name:value>",
      "a request header (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option("-d, --body <text>", "request body")
    .option("--file <jsonl>", "requests, one JSON object a line: method, uri, headers, body (+ id, label)")
    .option("--paranoia <1-4>", "paranoia level (default 1, or the route's)")
    .option("--threshold <score>", "anomaly score that blocks (default 5, or the route's)")
    .option("-c, --config <file>", "rampart.yaml whose route (--route) gives exclusions and allowlists")
    .option("--route <path>", "with -c: the route's path, e.g. /shop")
    .option("--json", "machine-readable output")
    .action(async (o: TestOptions) => {
      const route = await routePolicy(o);
      const paranoia = Number(o.paranoia ?? route?.paranoia ?? 1);
      if (![1, 2, 3, 4].includes(paranoia))
        throw new Error(`--paranoia: expected 1, 2, 3 or 4; got ${o.paranoia}`);
      const threshold = Number(o.threshold ?? route?.threshold ?? 5);
      if (!Number.isInteger(threshold) || threshold < 1)
        throw new Error(`--threshold: expected a positive whole number; got ${o.threshold}`);
      // The route's tuning applies as in the gateway; the mode is block, to show what it would refuse.
      const policy: WafPolicy = {
        mode: "block",
        paranoia: paranoia as WafPolicy["paranoia"],
        threshold,
        exclusions: route?.exclusions ?? [],
        parameters: route?.parameters ?? [],
      };
      const engine = createBuiltInWaf();
      if (!o.file) {
        if (!o.uri) throw new Error("give --uri for one request, or --file for a JSONL file of requests");
        const headers: Record<string, string> = {};
        for (const h of o.header) {
          const colon = h.indexOf(":");
          if (colon < 1) throw new Error(`--header: expected name:value; got '${h}'`);
          headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
        }
        const v = engine.inspect(
          toRequest({ method: o.method, uri: o.uri, headers, body: o.body ?? null }, "--uri"),
          policy,
        );
        console.log(
          o.json
            ? JSON.stringify(v, null, 2)
            : `${v.blocked ? "BLOCKED" : "passed"}  score ${v.score}  ${describe(v)}`,
        );
        return;
      }
      await testFile(o.file, engine, policy, o.json === true);
    });
  registerWafTuneCommand(waf);
}

async function testFile(file: string, engine: Waf, policy: WafPolicy, json: boolean) {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const bar = json ? undefined : progressBar("inspecting");
  const tally = { attack: { n: 0, blocked: 0 }, benign: { n: 0, blocked: 0 } };
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let r: Recorded;
    try {
      r = JSON.parse(line) as Recorded;
    } catch {
      throw new Error(`${file}:${n}: not a JSON object`);
    }
    const v = engine.inspect(toRequest(r, `${file}:${n}`), policy);
    if (r.label === "attack" || r.label === "benign") {
      tally[r.label].n++;
      if (v.blocked) tally[r.label].blocked++;
    }
    if (json)
      console.log(
        JSON.stringify({
          id: r.id ?? `line ${n}`,
          label: r.label,
          blocked: v.blocked,
          score: v.score,
          rules: v.matches.map((m) => m.rule),
        }),
      );
    else if (!bar)
      console.log(
        `${(r.id ?? `line ${n}`).padEnd(40)} ${v.blocked ? "BLOCKED" : "passed "} ${String(v.score).padStart(3)}  ${describe(v)}`,
      );
    bar?.update(n, n);
  }
  bar?.done();
  const pct = (a: number, b: number) => (b === 0 ? "-" : `${((100 * a) / b).toFixed(2)}%`);
  const summary = {
    requests: n,
    attacksCaught: pct(tally.attack.blocked, tally.attack.n),
    benignBlocked: pct(tally.benign.blocked, tally.benign.n),
    ...tally,
  };
  if (json) console.log(JSON.stringify({ summary }));
  else
    console.log(
      `${n} requests at paranoia ${policy.paranoia}: attacks caught ${summary.attacksCaught} of ${tally.attack.n}, benign blocked ${summary.benignBlocked} of ${tally.benign.n}`,
    );
}

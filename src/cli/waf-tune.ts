// `rampart waf tune`: reads the WAF detections in the audit log (routes in detect mode; refusals
// too with --include-blocked) over a time window, and proposes scoped exclusions for the route's
// `waf.exclusions`, as YAML to paste, with how many requests and clients each one rests on.
import type { Command } from "commander";
import { defaultConfig, loadConfig } from "../config/index.ts";
import {
  createTuner,
  DEFAULT_TUNE_OPTIONS,
  exclusionsYaml,
  oneLine,
  type TuneResult,
  withoutConfigured,
} from "../network/waf/tune.ts";
import { openAuditAccess } from "./audit-access.ts";
import { progressBar } from "./progress.ts";

interface TuneOptions {
  config?: string;
  server?: string;
  json?: boolean;
  from?: string;
  to?: string;
  route?: string;
  includeBlocked?: boolean;
  minClients: string;
  minRequests: string;
  broad?: boolean;
}

const PAGE = 1000;
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO 8601 time, or a duration before `now` such as `7d`, `12h` or `30m`. */
function instant(v: string, option: string, now: Date): Date {
  const ago = /^(\d{1,6})([mhd])$/.exec(v.trim());
  if (ago) return new Date(now.getTime() - Number(ago[1]) * (UNITS[ago[2] as string] as number));
  const d = /^\d{4}-\d{2}-\d{2}/.test(v) ? new Date(v) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime()))
    throw new Error(`${option}: expected an ISO 8601 time or a duration such as 7d, 12h, 30m; got '${v}'`);
  return d;
}

function wholeNumber(v: string, option: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new Error(`${option}: expected a whole number of 1 or more; got '${v}'`);
  return n;
}

/** A route's name as events carry it: `host/path`, `*` for any host; `/shop` means `*\/shop`. */
function routeName(v: string): string {
  const slash = v.indexOf("/");
  if (slash < 0 || /[\s\p{Cc}]/u.test(v))
    throw new Error(
      `--route: expected a route as events name it, such as /shop or example.com/shop; got '${v}'`,
    );
  return slash === 0 ? `*${v}` : v;
}

export function registerWafTuneCommand(waf: Command): void {
  waf
    .command("tune")
    .description("propose scoped exclusions for false positives, from the WAF detections in the audit log")
    .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
    .option("--server <url>", "reach this running server instead of the local store")
    .option(
      "--from <time>",
      "from this time (inclusive): ISO 8601, or a duration ago such as 7d (default 7d)",
    )
    .option("--to <time>", "until this time (exclusive): ISO 8601, or a duration ago (default now)")
    .option("--route <name>", "only this route, as events name it: /shop, or host/path")
    .option("--include-blocked", "also read refusals (gateway.waf_blocked), not only detect mode")
    .option(
      "--min-clients <n>",
      "propose only what this many distinct client addresses triggered",
      String(DEFAULT_TUNE_OPTIONS.minClients),
    )
    .option(
      "--min-requests <n>",
      "propose only what this many requests triggered",
      String(DEFAULT_TUNE_OPTIONS.minRequests),
    )
    .option(
      "--broad",
      `propose ARGS:* (a whole target family) for a rule seen on ${DEFAULT_TUNE_OPTIONS.broadNames}+ names of it`,
    )
    .option("--json", "machine-readable output")
    .action(async (o: TuneOptions) => {
      const now = new Date();
      const to = o.to ? instant(o.to, "--to", now) : now;
      const from = o.from ? instant(o.from, "--from", now) : new Date(to.getTime() - 7 * UNITS.d!);
      if (from.getTime() >= to.getTime())
        throw new Error(`--from: ${from.toISOString()} is not before --to ${to.toISOString()}`);
      const minClients = wholeNumber(o.minClients, "--min-clients");
      const minRequests = wholeNumber(o.minRequests, "--min-requests");
      const route = o.route === undefined ? undefined : routeName(o.route);
      const types = ["gateway.waf_detected", ...(o.includeBlocked ? ["gateway.waf_blocked"] : [])];

      const config = o.config ? await loadConfig(o.config) : defaultConfig();
      const access = await openAuditAccess(config, { ...(o.server ? { server: o.server } : {}) });
      const tuner = createTuner({ minClients, minRequests, broad: o.broad === true });
      const bar = o.json ? undefined : progressBar("reading the audit log");
      let read = 0;
      try {
        for (const type of types) {
          let cursor: string | undefined;
          do {
            const page = await access.search({
              type,
              from: from.toISOString(),
              to: to.toISOString(),
              ...(route ? { target: `route:${route}` } : {}),
              limit: PAGE,
              ...(cursor ? { cursor } : {}),
            });
            for (const e of page.entries) tuner.add(e);
            read += page.entries.length;
            bar?.update(read, read);
            cursor = page.next;
          } while (cursor);
        }
      } finally {
        bar?.done();
        await access.close();
      }
      // What rampart.yaml already excludes is not proposed again (detections from before it was).
      const result = withoutConfigured(tuner.result(), config.routes);
      const window = { from: from.toISOString(), to: to.toISOString() };
      if (o.json) {
        console.log(
          JSON.stringify(
            {
              window,
              types,
              ...(route ? { route } : {}),
              minClients,
              minRequests,
              via: access.via,
              ...result,
            },
            null,
            2,
          ),
        );
        return;
      }
      console.log(report(result, { ...window, types, via: access.via, minClients, minRequests }));
    });
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function report(
  r: TuneResult,
  c: { from: string; to: string; types: string[]; via: string; minClients: number; minRequests: number },
): string {
  const out = [
    `${plural(r.events, "event")} (${c.types.join(", ")}) from ${c.from} to ${c.to}, ${plural(r.requests, "request")} (${c.via})`,
  ];
  const skipped = Object.entries(r.skipped);
  if (skipped.length > 0)
    out.push(`  left out: ${skipped.map(([why, n]) => `${n} (${oneLine(why)})`).join(", ")}`);
  if (r.truncated > 0)
    out.push(`  ${plural(r.truncated, "event")} had a cut-short detail: its last match is not counted`);
  const proposing = r.routes.filter((t) => t.proposed.length > 0);
  if (r.events === 0) out.push("", "no WAF detections in this window: nothing to tune");
  else if (proposing.length === 0) out.push("", "no exclusion proposed");
  else {
    out.push(
      "",
      `Proposed exclusions (each seen from ${c.minClients}+ clients in ${c.minRequests}+ requests); review, then paste:`,
    );
    for (const t of proposing) out.push("", exclusionsYaml(t));
  }
  const held = r.routes.flatMap((t) => t.notProposed);
  if (held.length > 0) {
    out.push("", "Not proposed (too few clients or requests; possibly one attacker):");
    for (const h of held)
      out.push(
        `  ${oneLine(h.route)}  ${oneLine(h.rule)} at ${oneLine(h.target)}: ${plural(h.requests, "request")} from ${plural(h.clients, "client")}: ${h.reason}`,
      );
  }
  const allow = r.routes.flatMap((t) => t.allowlistCandidates);
  if (allow.length > 0) {
    out.push("", "Parameter allowlist candidates (one parameter trips many rules: free-form content?):");
    for (const a of allow)
      out.push(
        `  ${oneLine(a.route)}  ${oneLine(a.target)}: ${a.rules.length} rules (${a.rules.map(oneLine).join(", ")}), ${plural(a.matches, "match", "matches")}`,
      );
  }
  const hints = r.routes.flatMap((t) => t.broadHints.map((h) => ({ route: t.route, ...h })));
  if (hints.length > 0) {
    out.push("", "Seen on many names of one family (--broad would propose the family instead):");
    for (const h of hints)
      out.push(
        `  ${oneLine(h.route)}  ${oneLine(h.rule)} on ${h.names} ${oneLine(h.family)} names: ${oneLine(h.family)}:*`,
      );
  }
  return out.join("\n");
}

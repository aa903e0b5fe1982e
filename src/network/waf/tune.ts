// Tuning false positives from what the gateway reported: WAF detection events in, scoped exclusion
// proposals out. Each event names a route, a client and `detail` ("rule@target,… score=N"); every
// (route, rule, target) is counted (requests and distinct clients) and proposed as an exclusion of
// that rule on that target only. An attacker who sends attacks to get them tuned away must do so
// from several addresses and often; a pair seen from too few is listed, not proposed. Nothing
// here ever proposes a route-wide exclusion, and a whole target family (`ARGS:*`) only when asked.
import { type Exclusion, targetCovered } from "./engine.ts";
import { SEVERITY_POINTS } from "./types.ts";

/** What tuning reads of an audit entry; anything else in it is ignored, anything odd tolerated. */
export interface DetectionEvent {
  type?: unknown;
  /** `ip:203.0.113.9` */
  actor?: unknown;
  /** `route:*\/shop` */
  target?: unknown;
  data?: unknown;
}

export interface TuneOptions {
  /** Distinct client addresses a (route, rule, target) must come from to be proposed. */
  minClients: number;
  /** Requests (sum of the events' counts) it must add up to. */
  minRequests: number;
  /** Propose `FAMILY:*` for a rule seen on `broadNames` or more names of one family on a route. */
  broad: boolean;
  broadNames: number;
  /** A named target matched by this many distinct rules is a parameter allowlist candidate. */
  allowlistRules: number;
}

export const DEFAULT_TUNE_OPTIONS: TuneOptions = {
  minClients: 3,
  minRequests: 5,
  broad: false,
  broadNames: 3,
  allowlistRules: 3,
};

export interface RuleTarget {
  rule: string;
  target: string;
}

export interface ParsedDetail {
  pairs: RuleTarget[];
  score?: number;
  /** The gateway cut the text at 512 characters: the last pair and the score are lost. */
  truncated: boolean;
  /** Why the detail was not used at all. */
  problem?: string;
}

const MAX_DETAIL = 4096;
const MAX_TARGET = 256;
const RULE = "[A-Za-z0-9][A-Za-z0-9_.-]{0,99}";
// A pair starts at the beginning or after a comma: a rule id, "@", an upper-case target family.
const PAIR_START = new RegExp(`(?:^|,)(${RULE})@(?=[A-Z][A-Z_]{0,63}(?::|,|$))`, "g");
const SEVERITY_MIN = Math.min(...Object.values(SEVERITY_POINTS));
const SEVERITY_MAX = Math.max(...Object.values(SEVERITY_POINTS));

/**
 * Reads the gateway's `detail` text. Hostile or broken text never throws: what cannot be read is
 * reported as a problem, and a truncated text keeps only its complete pairs.
 */
export function parseDetail(detail: unknown): ParsedDetail {
  if (typeof detail !== "string") return { pairs: [], truncated: false, problem: "no detail text" };
  if (detail.length > MAX_DETAIL) return { pairs: [], truncated: false, problem: "detail text too long" };
  let body = detail;
  let score: number | undefined;
  let truncated = false;
  const scored = / score=(\d{1,6})$/.exec(body);
  if (scored) {
    score = Number(scored[1]);
    body = body.slice(0, scored.index);
  } else if (body.endsWith("...")) {
    truncated = true;
    body = body.slice(0, -3);
  } else return { pairs: [], truncated: false, problem: "no score" };
  const starts = [...body.matchAll(PAIR_START)];
  if (starts.length === 0 || starts[0]?.index !== 0 || body.startsWith(","))
    return { pairs: [], truncated, problem: "does not start with rule@target" };
  const pairs: RuleTarget[] = [];
  const rules = new Set<string>();
  for (const [i, m] of starts.entries()) {
    const rule = m[1] as string;
    const from = m.index + m[0].length;
    const to = starts[i + 1]?.index ?? body.length;
    // formatDetail percent-encodes the delimiters in target names; nothing else is escaped.
    const target = body
      .slice(from, to)
      .replace(/%(25|2C|40|20)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    // A rule counts once per request: a repeated one means the text is not what the gateway wrote.
    if (rules.has(rule)) return { pairs: [], truncated, problem: `rule ${rule} appears twice` };
    rules.add(rule);
    pairs.push({ rule, target });
  }
  if (truncated) pairs.pop(); // the last target may be cut short
  for (const p of pairs)
    if (p.target.length > MAX_TARGET || /[\p{Cc}\p{Co}\p{Cn}\u2028\u2029]/u.test(p.target))
      return { pairs: [], truncated, problem: "a target name is too long or holds control characters" };
  // Each matched rule adds 2 (notice) to 5 (critical): a score that cannot come from these rules
  // means pairs were made up (e.g. by a parameter name that reads as ",rule@TARGET").
  if (score !== undefined && (score < SEVERITY_MIN * pairs.length || score > SEVERITY_MAX * pairs.length))
    return { pairs: [], truncated, problem: `score ${score} does not fit ${pairs.length} matched rules` };
  return { pairs, ...(score === undefined ? {} : { score }), truncated };
}

export interface PairCount {
  route: string;
  rule: string;
  target: string;
  /** Requests: the sum of the events' counts. */
  requests: number;
  /** Of which refused (from `gateway.waf_blocked` events). */
  blocked: number;
  clients: number;
  events: number;
}

export interface Proposal extends PairCount {
  /** Ready for the route's `waf.exclusions`. */
  exclusion: { rules: string[]; targets: string[] };
  /** With a family (`ARGS:*`), the names it was seen on. */
  names?: string[];
}

export interface Held extends PairCount {
  reason: string;
}

export interface AllowlistCandidate {
  route: string;
  target: string;
  rules: string[];
  /** Rule matches on it (a request that tripped two of the rules counts twice). */
  matches: number;
}

export interface RouteTuning {
  route: string;
  /** From the route's name (`host/path`, `*` for any host), to find it in rampart.yaml. */
  host?: string;
  path?: string;
  proposed: Proposal[];
  notProposed: Held[];
  allowlistCandidates: AllowlistCandidate[];
  /** Rules seen on many names of a family where `--broad` would propose the family. */
  broadHints: { rule: string; family: string; names: number }[];
}

export interface TuneResult {
  events: number;
  requests: number;
  /** Events left out, by reason (unreadable detail, no client, no route, …). */
  skipped: Record<string, number>;
  /** Events whose detail was cut short (their last pair is not counted). */
  truncated: number;
  routes: RouteTuning[];
}

interface Tally {
  route: string;
  rule: string;
  target: string;
  requests: number;
  blocked: number;
  events: number;
  clients: Set<string>;
}

const MAX_COUNT = 1_000_000_000;

/** Adds events one at a time (a page of the audit log at a time), then proposes. */
export function createTuner(options: Partial<TuneOptions> = {}) {
  const o: TuneOptions = { ...DEFAULT_TUNE_OPTIONS, ...options };
  const tallies = new Map<string, Tally>();
  const skipped: Record<string, number> = {};
  let events = 0;
  let requests = 0;
  let truncated = 0;
  const skip = (why: string) => void (skipped[why] = (skipped[why] ?? 0) + 1);

  return {
    add(e: DetectionEvent): void {
      events++;
      const actor = typeof e.actor === "string" && e.actor.startsWith("ip:") ? e.actor.slice(3) : "";
      const route = typeof e.target === "string" && e.target.startsWith("route:") ? e.target.slice(6) : "";
      if (!actor) return skip("no client address");
      if (!route) return skip("no route");
      const data = (typeof e.data === "object" && e.data !== null ? e.data : {}) as Record<string, unknown>;
      const raw = data.count;
      const count =
        typeof raw === "number" && Number.isInteger(raw) && raw >= 1 ? Math.min(raw, MAX_COUNT) : 1;
      const parsed = parseDetail(data.detail);
      if (parsed.problem) return skip(`detail: ${parsed.problem}`);
      if (parsed.truncated) truncated++;
      requests += count;
      const blocked = e.type === "gateway.waf_blocked" ? count : 0;
      for (const { rule, target } of parsed.pairs) {
        const key = `${route}\0${rule}\0${target}`;
        let t = tallies.get(key);
        if (!t) {
          t = { route, rule, target, requests: 0, blocked: 0, events: 0, clients: new Set() };
          tallies.set(key, t);
        }
        t.requests += count;
        t.blocked += blocked;
        t.events++;
        t.clients.add(actor);
      }
    },
    result(): TuneResult {
      const byRoute = new Map<string, Tally[]>();
      for (const t of tallies.values()) {
        const list = byRoute.get(t.route) ?? [];
        list.push(t);
        byRoute.set(t.route, list);
      }
      const routes = [...byRoute.entries()].map(([route, list]) => tuneRoute(route, list, o));
      const weight = (r: RouteTuning) => r.proposed.reduce((s, p) => s + p.requests, 0);
      routes.sort((a, b) => weight(b) - weight(a) || a.route.localeCompare(b.route));
      return { events, requests, skipped, truncated, routes };
    },
  };
}

/** Events in, proposals out. */
export function tune(events: Iterable<DetectionEvent>, options: Partial<TuneOptions> = {}): TuneResult {
  const tuner = createTuner(options);
  for (const e of events) tuner.add(e);
  return tuner.result();
}

const count = (t: Tally): PairCount => ({
  route: t.route,
  rule: t.rule,
  target: t.target,
  requests: t.requests,
  blocked: t.blocked,
  clients: t.clients.size,
  events: t.events,
});

const byWeight = (a: PairCount, b: PairCount) =>
  b.requests - a.requests ||
  b.clients - a.clients ||
  a.rule.localeCompare(b.rule) ||
  a.target.localeCompare(b.target);

/** `ARGS` of `ARGS:q`; none for a target without a name (`REQUEST_PATH`). */
function familyOf(target: string): string | undefined {
  const colon = target.indexOf(":");
  return colon > 0 ? target.slice(0, colon) : undefined;
}

function tuneRoute(route: string, list: Tally[], o: TuneOptions): RouteTuning {
  const slash = route.indexOf("/");
  const host = slash > 0 ? route.slice(0, slash) : undefined;
  const out: RouteTuning = {
    route,
    ...(host && host !== "*" ? { host } : {}),
    ...(slash >= 0 ? { path: route.slice(slash) } : {}),
    proposed: [],
    notProposed: [],
    allowlistCandidates: [],
    broadHints: [],
  };
  const why = (requests: number, clients: number): string | undefined =>
    clients < o.minClients
      ? `too few clients (${clients} < ${o.minClients})`
      : requests < o.minRequests
        ? `too few requests (${requests} < ${o.minRequests})`
        : undefined;

  // A rule seen on many names of one family: one family exclusion with --broad, else a hint.
  const families = new Map<string, Tally[]>();
  for (const t of list) {
    const family = familyOf(t.target);
    if (!family || t.target.endsWith(":*")) continue;
    const key = `${t.rule}\0${family}`;
    families.set(key, [...(families.get(key) ?? []), t]);
  }
  const coveredByFamily = new Set<Tally>();
  for (const [key, members] of families) {
    if (members.length < o.broadNames) continue;
    const [rule, family] = key.split("\0") as [string, string];
    if (!o.broad) {
      out.broadHints.push({ rule, family, names: members.length });
      continue;
    }
    const clients = new Set(members.flatMap((m) => [...m.clients]));
    const requests = members.reduce((s, m) => s + m.requests, 0);
    if (why(requests, clients.size)) continue; // each name is judged on its own below
    for (const m of members) coveredByFamily.add(m);
    out.proposed.push({
      route,
      rule,
      target: `${family}:*`,
      requests,
      blocked: members.reduce((s, m) => s + m.blocked, 0),
      clients: clients.size,
      events: members.reduce((s, m) => s + m.events, 0),
      exclusion: { rules: [rule], targets: [`${family}:*`] },
      names: members.map((m) => m.target.slice(family.length + 1)).sort(),
    });
  }

  for (const t of list) {
    if (coveredByFamily.has(t)) continue;
    const c = count(t);
    // A parameter literally named "*" would read as the whole family in an exclusion.
    const reason = t.target.endsWith(":*")
      ? "its name reads as a whole target family"
      : why(c.requests, c.clients);
    if (reason) out.notProposed.push({ ...c, reason });
    else out.proposed.push({ ...c, exclusion: { rules: [t.rule], targets: [t.target] } });
  }

  // A named parameter that trips many rules carries free-form content: allowlist it deliberately.
  const rulesOn = new Map<string, Tally[]>();
  for (const t of list)
    if (familyOf(t.target) && t.clients.size >= o.minClients)
      rulesOn.set(t.target, [...(rulesOn.get(t.target) ?? []), t]);
  for (const [target, ts] of rulesOn)
    if (ts.length >= o.allowlistRules)
      out.allowlistCandidates.push({
        route,
        target,
        rules: ts.map((t) => t.rule).sort(),
        matches: ts.reduce((s, t) => s + t.requests, 0),
      });

  out.proposed.sort(byWeight);
  out.notProposed.sort(byWeight);
  out.allowlistCandidates.sort((a, b) => b.rules.length - a.rules.length || b.matches - a.matches);
  out.broadHints.sort((a, b) => b.names - a.names);
  return out;
}

/** A route as rampart.yaml has it; its events name it `host/path` (`*` for any host). */
export interface ConfiguredRoute {
  host?: string | undefined;
  path: string;
  waf?: { exclusions: readonly Exclusion[] } | undefined;
}

/**
 * Moves proposals a route's configured exclusions already cover (by rule id; tag exclusions are
 * not resolved here) to `notProposed`: detections from before the exclusion was applied.
 */
export function withoutConfigured(r: TuneResult, routes: readonly ConfiguredRoute[]): TuneResult {
  const configured = new Map(routes.map((c) => [`${c.host ?? "*"}${c.path}`, c.waf?.exclusions ?? []]));
  return {
    ...r,
    routes: r.routes.map((t) => {
      const exclusions = configured.get(t.route) ?? [];
      const covered = (p: Proposal) =>
        exclusions.some(
          (e) =>
            e.rules?.includes(p.rule) &&
            (e.targets === undefined || e.targets.some((pattern) => targetCovered(pattern, p.target))),
        );
      const already = t.proposed.filter(covered);
      if (already.length === 0) return t;
      return {
        ...t,
        proposed: t.proposed.filter((p) => !covered(p)),
        notProposed: [
          ...t.notProposed,
          ...already.map(({ exclusion: _, names: __, ...p }) => ({
            ...p,
            reason: "already excluded in the config",
          })),
        ].sort(byWeight),
      };
    }),
  };
}

const plainRule = /^[a-z][a-z0-9_-]*$/;
const scalar = (s: string) => (plainRule.test(s) ? s : JSON.stringify(s));
/** For comments: one line, printable. */
export const oneLine = (s: string) => s.replace(/[\p{Cc}\p{Co}\p{Cn}\u2028\u2029]/gu, "?");

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/**
 * A route's proposals as the YAML of its `waf.exclusions`, the counts as comments: paste it under
 * the route's `waf:` (merging with any exclusions it has).
 */
export function exclusionsYaml(r: RouteTuning): string {
  const where = [r.host ? `host: ${r.host}` : undefined, r.path ? `path: ${r.path}` : undefined]
    .filter(Boolean)
    .join(", ");
  const lines = [`# route ${oneLine(r.route)}${where ? ` (${oneLine(where)})` : ""}: under its waf:`];
  lines.push("exclusions:");
  for (const p of r.proposed) {
    const refused = p.blocked > 0 ? `, ${p.blocked} refused` : "";
    const names = p.names ? ` on ${p.names.length} names: ${p.names.map(oneLine).join(", ")}` : "";
    lines.push(
      `  # ${plural(p.requests, "request")} from ${plural(p.clients, "client")}${refused}${oneLine(names)}`,
    );
    lines.push(
      `  - { rules: [${p.exclusion.rules.map(scalar).join(", ")}], targets: [${p.exclusion.targets.map((t) => JSON.stringify(t)).join(", ")}] }`,
    );
  }
  return lines.join("\n");
}

// Detection engine throughput: events/s through createDetector with 50 rules (the built-ins plus
// generated rules on the same event types), beside an anchor measured in the same run.
//
// The anchor is what a log-search SIEM does with the same rules: the events are inserted into
// PostgreSQL (PGlite when no PostgreSQL is given) and, for every second of event time, each of
// the 50 rules runs as one SQL query over the last `window` of events (GROUP BY the rule's group,
// HAVING sum(count) >= threshold; count(DISTINCT …) for distinct rules; NOT EXISTS an earlier row
// for first_seen; the tick's rows for each). That is the honest comparison for "rules over a
// stream vs searches over a store", and it is slow enough that it runs on a smaller slice of the
// same stream (BENCH_ANCHOR_EVENTS); the figure is events/s either way (insert + query time).
// The SQL does no suppression or dedup (a SIEM throttles alerts after the search): it is only
// the detection work, so the ratio flatters the anchor if anything.
import { sql } from "kysely";
import { manualClock } from "../../src/platform/clock.ts";
import { newEvent, type SecurityEvent, severities } from "../../src/platform/events/index.ts";
import { builtinRules } from "../../src/monitoring/detect/builtin.ts";
import { createDetector } from "../../src/monitoring/detect/engine.ts";
import { durationMs, parseRule, type Rule, type RuleInput } from "../../src/monitoring/detect/schema.ts";
import type { Store } from "../../src/platform/store/index.ts";

/** Event-time rate of the generated stream: a busy deployment (gateway reports included). */
export const EVENTS_PER_SECOND = 10_000;
const START = Date.parse("2026-03-02T10:00:00Z");

/** 50 rules: the built-ins and generated ones over the same types, as a deployment would add. */
export function benchRules(total = 50): Rule[] {
  const extra: RuleInput[] = [];
  const families: Array<(i: number) => RuleInput> = [
    (i) => ({
      id: `gen-route-${i}`,
      title: `Route refusals ${i}`,
      priority: "P3",
      match: { type: ["gateway.waf_blocked", "gateway.rate_limited", "gateway.ip_denied"] },
      groupBy: { route: "target.id" },
      condition: { kind: "count", threshold: 5000 + i * 100, window: "5m" },
    }),
    (i) => ({
      id: `gen-ip-${i}`,
      title: `Address refusals ${i}`,
      priority: "P3",
      match: { type: "gateway.*", outcome: "denied" },
      groupBy: { ip: "actor.id" },
      condition: { kind: "count", threshold: 1000 + 50 * i, window: "1m" },
    }),
    (i) => ({
      id: `gen-login-${i}`,
      title: `Login failures ${i}`,
      priority: "P3",
      match: { type: "identity.login_failed", outcome: "failure" },
      groupBy: { ip: "actor.id" },
      condition: { kind: "count", threshold: 20 + i, window: "10m" },
    }),
    (i) => ({
      id: `gen-reads-${i}`,
      title: `Secret reads ${i}`,
      priority: "P3",
      match: { type: "secrets.read", outcome: "success" },
      groupBy: { identity: "actor.id" },
      condition: { kind: "distinct", field: "target.id", threshold: 30 + i, window: "5m" },
    }),
    (i) => ({
      id: `gen-tokens-${i}`,
      title: `Token issuance ${i}`,
      priority: "P3",
      match: { type: "identity.token_issued" },
      groupBy: { client: "actor.id" },
      condition: { kind: "count", threshold: 500 + i, window: "1m" },
    }),
    (i) => ({
      id: `gen-waf-rule-${i}`,
      title: `WAF rule hits ${i}`,
      priority: "P3",
      match: { type: "gateway.waf_blocked", data: { detail: `94${i % 10}100` } },
      groupBy: { route: "target.id" },
      condition: { kind: "count", threshold: 300, window: "5m" },
    }),
  ];
  for (let i = 0; builtinRules.length + extra.length < total; i++)
    extra.push(families[i % families.length]!(i));
  return [...builtinRules, ...extra.map((r) => parseRule(r))];
}

/** A deterministic pseudo-random stream with the mix a gateway-fronted deployment produces. */
export function benchEvents(n: number, seed = 1): SecurityEvent[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const ips = Array.from({ length: 5000 }, (_, i) => `198.51.${(i >> 8) & 255}.${i & 255}`);
  const routes = Array.from({ length: 40 }, (_, i) => `route-${i}`);
  const users = Array.from({ length: 300 }, (_, i) => `oidc:user-${i}`);
  const services = Array.from({ length: 50 }, (_, i) => `svc-${i}`);
  const secrets = Array.from({ length: 400 }, (_, i) => `/prod/app-${i % 20}/secret-${i}`);
  const keys = Array.from({ length: 100 }, (_, i) => `key-${i}`);
  const out: SecurityEvent[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(START + Math.floor((i * 1000) / EVENTS_PER_SECOND));
    const r = rnd();
    let e;
    if (r < 0.2)
      e = {
        type: "gateway.waf_blocked",
        severity: "high" as const,
        outcome: "denied" as const,
        actor: { kind: "ip", id: pick(ips) },
        target: { kind: "route", id: pick(routes) },
        data: { count: 1 + Math.floor(rnd() * 5), detail: `94${Math.floor(rnd() * 10)}100` },
        source: "edge-1",
      };
    else if (r < 0.4)
      e = {
        type: "gateway.rate_limited",
        severity: "medium" as const,
        outcome: "denied" as const,
        actor: { kind: "ip", id: pick(ips) },
        target: { kind: "route", id: pick(routes) },
        data: { count: 1 + Math.floor(rnd() * 20) },
        source: "edge-1",
      };
    else if (r < 0.45)
      e = {
        type: "gateway.ip_denied",
        severity: "low" as const,
        outcome: "denied" as const,
        actor: { kind: "ip", id: pick(ips) },
        target: { kind: "route", id: pick(routes) },
        data: { count: 1 },
      };
    else if (r < 0.55)
      e = { type: "identity.login", actor: { kind: "user", id: pick(users) }, data: { provider: "google" } };
    else if (r < 0.62)
      e = {
        type: "identity.login_failed",
        severity: "low" as const,
        outcome: "failure" as const,
        actor: { kind: "ip", id: pick(ips) },
        data: { reason: "invalid_grant" },
      };
    else if (r < 0.77) {
      // Each identity reads the few secrets of its app; now and then one it never read.
      const who = Math.floor(rnd() * (users.length + services.length));
      const secret =
        rnd() < 0.995
          ? (who * 7 + Math.floor(rnd() * 4)) % secrets.length
          : Math.floor(rnd() * secrets.length);
      e = {
        type: "secrets.read",
        actor:
          who < users.length
            ? { kind: "user", id: users[who]! }
            : { kind: "service", id: services[who - users.length]! },
        target: { kind: "secret", id: secrets[secret]! },
        retention: "audit" as const,
        data: { version: 1, keys: ["password"] },
      };
    } else if (r < 0.87) {
      // A key is used by its service from a couple of addresses; rarely from a new one.
      const key = Math.floor(rnd() * keys.length);
      e = {
        type: "identity.api_key_used",
        actor: { kind: "service", id: services[key % services.length]! },
        target: { kind: "api_key", id: keys[key]! },
        retention: "audit" as const,
        data: { ip: rnd() < 0.999 ? `10.0.${key}.${Math.floor(rnd() * 2)}` : pick(ips) },
      };
    } else if (r < 0.95)
      e = {
        type: "identity.token_issued",
        actor: { kind: "service", id: pick(services) },
        data: { scope: "read" },
      };
    else if (r < 0.99)
      e = {
        type: "identity.client_auth_failed",
        severity: "low" as const,
        outcome: "failure" as const,
        actor: { kind: "service", id: pick(services) },
        data: { ip: pick(ips), method: "client_secret_basic", reason: "bad_credentials" },
      };
    else if (r < 0.995)
      e = {
        type: "rbac.binding_added",
        actor: { kind: "user", id: pick(users) },
        target: { kind: "rbac_binding", id: `b-${i}` },
        data: { binding: { role: "viewer", users: [pick(users)] } },
      };
    else
      e = {
        type: "config.reloaded",
        actor: { kind: "system", id: "rampart" },
        data: { environment: "prod" },
      };
    out.push(newEvent(e, at));
  }
  return out;
}

export interface Throughput {
  events: number;
  rules: number;
  /** events/s (wall clock) per run, in run order. */
  runs: number[];
  median: number;
  /** events per second of this process's CPU time (user + system), median: steadier on a busy machine. */
  cpuMedian: number;
  detections: number;
}

/** Events/s through the engine: `runs` fresh detectors over the same stream, batches of `batch`. */
export async function engineThroughput(o: {
  events: readonly SecurityEvent[];
  rules: readonly Rule[];
  runs?: number;
  batch?: number;
  progress?: (msg: string) => void;
}): Promise<Throughput> {
  const runs = o.runs ?? 5;
  const batch = o.batch ?? 1000;
  const results: number[] = [];
  const cpu: number[] = [];
  let detections = 0;
  for (let r = 0; r <= runs; r++) {
    const clock = manualClock(new Date(START));
    let fired = 0;
    const detector = createDetector({
      rules: () => o.rules,
      clock,
      environment: () => "prod",
      onDetection: () => fired++,
    });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < o.events.length; i += batch) {
      // The clock follows event time, as it would in a live server.
      clock.set(o.events[i]!.time);
      detector.process(o.events.slice(i, i + batch));
    }
    const s = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(c0);
    const cpuS = (used.user + used.system) / 1e6;
    // Run 0 warms up the JIT and is not counted.
    if (r > 0) {
      results.push(o.events.length / s);
      cpu.push(o.events.length / cpuS);
      o.progress?.(
        `engine run ${r}/${runs}: ${Math.round(o.events.length / s).toLocaleString("en")} events/s, ${Math.round(o.events.length / cpuS).toLocaleString("en")} per CPU second`,
      );
    }
    detections = fired;
    await new Promise((res) => setImmediate(res));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    events: o.events.length,
    rules: o.rules.length,
    runs: results,
    median: median(results),
    cpuMedian: median(cpu),
    detections,
  };
}

// ---- the anchor: the same rules as scheduled SQL searches over a table of events ----

const FIELD: Record<string, string> = {
  type: "type",
  source: "source",
  "actor.id": "actor_id",
  "actor.kind": "actor_kind",
  "target.id": "target_id",
  "target.kind": "target_kind",
};
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const jsonPath = (path: string) => lit(`{${path.slice("data.".length).split(".").join(",")}}`);
/** The SQL for a field path, on the table aliased `t` (`e.` or ``). */
const column = (path: string, t = "") =>
  FIELD[path] ? `${t}${FIELD[path]}` : `(${t}data #>> ${jsonPath(path)})`;

function where(rule: Rule, env: string, t = ""): string {
  const m = rule.match;
  const parts: string[] = [];
  const exact = m.type.filter((x) => !x.endsWith("*"));
  const globs = m.type
    .filter((x) => x.endsWith("*"))
    .map((x) => `${t}type like ${lit(x.slice(0, -1) + "%")}`);
  const types = [exact.length ? `${t}type in (${exact.map(lit).join(",")})` : "", ...globs].filter(Boolean);
  parts.push(`(${types.join(" or ")})`);
  if (m.outcome) parts.push(`${t}outcome in (${m.outcome.map(lit).join(",")})`);
  if (m.minSeverity) parts.push(`${t}severity >= ${severities.indexOf(m.minSeverity)}`);
  if (m.actorKind) parts.push(`${t}actor_kind in (${m.actorKind.map(lit).join(",")})`);
  if (m.source) parts.push(`${t}source in (${m.source.map(lit).join(",")})`);
  if (m.environment && !m.environment.includes(env as never)) parts.push("false");
  for (const [k, v] of Object.entries(m.data ?? {}))
    parts.push(`${column(`data.${k}`, t)} = ${lit(String(v))}`);
  if (m.self !== undefined) {
    const fields = m.self === true ? ["target.id"] : Array.isArray(m.self) ? m.self : [m.self];
    const tests = fields.map((f) =>
      f.startsWith("data.")
        ? `coalesce(jsonb_exists(${t}data #> ${jsonPath(f)}, ${t}actor_id), false)`
        : `${column(f, t)} = ${t}actor_id`,
    );
    parts.push(`(${tests.join(" or ")})`);
  }
  if (m.outsideHours) {
    const h = m.outsideHours;
    const local = `(${t}time at time zone ${lit(h.timezone)})`;
    const days = h.days.map((d) => ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].indexOf(d)).join(",");
    const inHours =
      h.from <= h.to
        ? `${local}::time >= ${lit(h.from)} and ${local}::time < ${lit(h.to)}`
        : `(${local}::time >= ${lit(h.from)} or ${local}::time < ${lit(h.to)})`;
    parts.push(`not (extract(dow from ${local}) in (${days}) and ${inHours})`);
  }
  return parts.join(" and ");
}

/** One SQL search per rule for the tick ending at `$1` (timestamptz). */
export function ruleQuery(rule: Rule, env: string): string {
  const groups = Object.values(rule.groupBy).map((p) => column(p));
  const g = groups.length ? groups.join(", ") : "1";
  const c = rule.condition;
  const recent = (ms: number, t = "") =>
    `${t}time > $1::timestamptz - interval '${ms} milliseconds' and ${t}time <= $1::timestamptz`;
  switch (c.kind) {
    case "count":
      return `select ${g}, sum(weight) as n from bench_events
        where ${where(rule, env)} and ${recent(durationMs(c.window))}
        group by ${g} having sum(weight) >= ${c.threshold}`;
    case "distinct":
      return `select ${g}, count(distinct ${column(c.field)}) as n from bench_events
        where ${where(rule, env)} and ${recent(durationMs(c.window))}
        group by ${g} having count(distinct ${column(c.field)}) >= ${c.threshold}`;
    case "each":
      return `select ${g} from bench_events where ${where(rule, env)} and ${recent(1000)}`;
    case "first_seen": {
      const same = [...Object.values(rule.groupBy), c.field].map(
        (p) => `${column(p, "o.")} = ${column(p, "e.")}`,
      );
      const eg = Object.values(rule.groupBy).map((p) => column(p, "e."));
      return `select ${eg.length ? eg.join(", ") : "1"} from bench_events e
        where ${where(rule, env, "e.")} and ${recent(1000, "e.")}
          and not exists (select 1 from bench_events o where o.type = e.type and ${same.join(" and ")}
            and o.time < e.time and o.time > e.time - interval '${durationMs(c.remember)} milliseconds')`;
    }
  }
}

export interface AnchorResult {
  events: number;
  insertSeconds: number;
  querySeconds: number;
  queries: number;
  /** events ÷ (insert + query time). */
  eventsPerSecond: number;
  hits: number;
}

/** The same rules as SQL searches, once per second of event time, over `events` inserted into `store`. */
export async function sqlAnchor(o: {
  store: Store;
  events: readonly SecurityEvent[];
  rules: readonly Rule[];
  progress?: (msg: string) => void;
}): Promise<AnchorResult> {
  const db = o.store.db;
  await sql`drop table if exists bench_events`.execute(db);
  await sql`create table bench_events (
      id text primary key, time timestamptz not null, type text not null, severity smallint not null,
      outcome text not null, actor_kind text not null, actor_id text not null, target_kind text,
      target_id text, source text, data jsonb not null, weight double precision not null
    )`.execute(db);
  await sql`create index bench_events_type_time on bench_events (type, time)`.execute(db);
  const t0 = performance.now();
  const BATCH = 1000;
  for (let i = 0; i < o.events.length; i += BATCH) {
    const rows = o.events.slice(i, i + BATCH).map((e) => ({
      id: e.id,
      time: e.time,
      type: e.type,
      severity: severities.indexOf(e.severity),
      outcome: e.outcome,
      actor_kind: e.actor.kind,
      actor_id: e.actor.id,
      target_kind: e.target?.kind ?? null,
      target_id: e.target?.id ?? null,
      source: e.source ?? null,
      data: JSON.stringify(e.data),
      weight: typeof e.data.count === "number" ? e.data.count : 1,
    }));
    await (db as unknown as import("kysely").Kysely<{ bench_events: Record<string, unknown> }>)
      .insertInto("bench_events")
      .values(rows)
      .execute();
  }
  await sql`analyze bench_events`.execute(db);
  const insertSeconds = (performance.now() - t0) / 1000;
  o.progress?.(
    `anchor: ${o.events.length.toLocaleString("en")} events inserted in ${insertSeconds.toFixed(1)} s`,
  );
  const queries = o.rules.map((r) => ruleQuery(r, "prod"));
  const first = Date.parse(o.events[0]!.time);
  const last = Date.parse(o.events.at(-1)!.time);
  const t1 = performance.now();
  let hits = 0;
  let count = 0;
  for (let tick = first + 1000; tick <= last + 1000; tick += 1000) {
    const at = new Date(tick).toISOString();
    for (const q of queries) {
      const r = await sql.raw(q.replace(/\$1/g, lit(at))).execute(db);
      hits += r.rows.length;
      count++;
    }
  }
  const querySeconds = (performance.now() - t1) / 1000;
  await sql`drop table bench_events`.execute(db);
  return {
    events: o.events.length,
    insertSeconds,
    querySeconds,
    queries: count,
    eventsPerSecond: o.events.length / (insertSeconds + querySeconds),
    hits,
  };
}

// The detection engine: every batch from the event bus meets only the rules that can match its
// event types (an exact-type index plus a short list of prefix globs), in one synchronous pass.
// Windows slide over event time; the clock only retires idle state. Memory is bounded: groups per
// rule (least recently touched go first), buckets per window, values per distinct window.
import { createHash, randomUUID } from "node:crypto";
import type { Clock } from "../../platform/clock.ts";
import { type EventRef, type SecurityEvent, severities } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { type Rule, ruleTimings, weekdays } from "./schema.ts";
import { createSeenStore, type SeenStore } from "./seen.ts";
import type { Detection } from "./types.ts";
import {
  addCount,
  addDistinct,
  clearCounts,
  countSpan,
  countBuckets,
  countWindow,
  type CountWindow,
  distinctSpan,
  distinctWindow,
  type DistinctWindow,
} from "./windows.ts";

export interface DetectorOptions {
  /** Read once per batch; a new array rebuilds the index, keeping the state of unchanged rules. */
  rules: () => readonly Rule[];
  clock: Clock;
  /** The deployment's environment (dev, sit, uat, prod), for `match.environment`. */
  environment: () => string;
  /** Memory of first_seen rules; in memory only when absent. */
  seen?: SeenStore;
  onDetection: (d: Detection) => void;
  logger?: Logger | undefined;
  /** Groups kept per rule (default 100,000); the least recently touched are dropped past it. */
  maxGroupsPerRule?: number;
}

export interface RuleStats {
  matched: number;
  fired: number;
  errors: number;
  groups: number;
  /** Groups dropped because the rule held maxGroupsPerRule. */
  evicted: number;
}

export interface DetectorStats {
  rules: number;
  events: number;
  matched: number;
  detections: number;
  errors: number;
  groups: number;
  /** Buckets and distinct values held by all windows: what memory the state costs. */
  entries: number;
  evictedGroups: number;
  perRule: Record<string, RuleStats>;
}

export interface Detector {
  /** Runs a batch through the rules; calls onDetection for each firing and returns them. */
  process(events: readonly SecurityEvent[]): Detection[];
  stats(): DetectorStats;
  /** Forgets all window and suppression state (not the first_seen memory). */
  reset(): void;
}

const MAX_EVIDENCE = 20;
const SWEEP_EVERY_MS = 10_000;
const MAX_TYPE_CACHE = 10_000;

interface Evidence {
  id: string;
  t: number;
  actor: EventRef;
  target: EventRef | undefined;
}

/** The last MAX_EVIDENCE events of a group, in parallel arrays used as a ring: no allocation per event. */
interface EvidenceRing {
  ids: string[];
  times: number[];
  actors: EventRef[];
  targets: Array<EventRef | undefined>;
  next: number;
}

interface GroupState {
  /** Clock time (ms) of the last touch, to retire idle groups and pick the least recently used. */
  touched: number;
  /** Event time (ms) before which the group does not fire again. */
  quietUntil: number;
  count?: CountWindow;
  distinct?: DistinctWindow;
  evidence?: EvidenceRing;
}

type Getter = (e: SecurityEvent) => unknown;

interface CompiledRule {
  rule: Rule;
  /** The rule's JSON: unchanged JSON keeps the state across a reload. */
  json: string;
  matches: (e: SecurityEvent, env: string, t: number) => boolean;
  group: { names: string[]; get: Getter[] };
  /** The condition's field (distinct, first_seen). */
  field: Getter | undefined;
  windowMs: number;
  suppressMs: number;
  rememberMs: number;
  groups: Map<string, GroupState>;
  stats: { matched: number; fired: number; errors: number; evicted: number };
  logged: boolean;
}

const own = (o: unknown, k: string): unknown =>
  o !== null && typeof o === "object" && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;

/** Reads a field path (`actor.id`, `data.binding.users`) from an event. */
export function fieldGetter(path: string): Getter {
  switch (path) {
    case "type":
      return (e) => e.type;
    case "source":
      return (e) => e.source;
    case "actor.id":
      return (e) => e.actor.id;
    case "actor.kind":
      return (e) => e.actor.kind;
    case "target.id":
      return (e) => e.target?.id;
    case "target.kind":
      return (e) => e.target?.kind;
  }
  const parts = path.slice("data.".length).split(".");
  if (parts.length === 1) {
    const k = parts[0]!;
    return (e) => own(e.data, k);
  }
  return (e) => {
    let v: unknown = e.data;
    for (const p of parts) v = own(v, p);
    return v;
  };
}

const scalarText = (v: unknown): string | undefined =>
  typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;

const weightOf = (e: SecurityEvent): number => {
  const c = own(e.data, "count");
  return typeof c === "number" && Number.isFinite(c) && c > 0 ? c : 1;
};

function hoursTest(h: NonNullable<Rule["match"]["outsideHours"]>): (t: number) => boolean {
  const minutes = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const from = minutes(h.from);
  const to = minutes(h.to);
  const days = new Set(h.days.map((d) => weekdays.indexOf(d)));
  const inside = (day: number, m: number) =>
    days.has(day) && (from <= to ? m >= from && m < to : m >= from || m < to);
  if (h.timezone === "UTC" || h.timezone === "Etc/UTC") {
    return (t) => {
      const d = new Date(t);
      return !inside(d.getUTCDay(), d.getUTCHours() * 60 + d.getUTCMinutes());
    };
  }
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: h.timezone,
    hourCycle: "h23",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
  const dayIndex: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
  return (t) => {
    let day = 0;
    let m = 0;
    for (const p of fmt.formatToParts(t)) {
      if (p.type === "weekday") day = dayIndex[p.value] ?? 0;
      else if (p.type === "hour") m += Number(p.value) * 60;
      else if (p.type === "minute") m += Number(p.value);
    }
    return !inside(day, m);
  };
}

function compileMatch(rule: Rule): CompiledRule["matches"] {
  const m = rule.match;
  const tests: Array<(e: SecurityEvent, env: string, t: number) => boolean> = [];
  if (m.outcome) {
    const set = new Set<string>(m.outcome);
    tests.push((e) => set.has(e.outcome));
  }
  if (m.minSeverity) {
    const min = severities.indexOf(m.minSeverity);
    tests.push((e) => severities.indexOf(e.severity) >= min);
  }
  if (m.actorKind) {
    const set = new Set(m.actorKind);
    tests.push((e) => set.has(e.actor.kind));
  }
  if (m.source) {
    const set = new Set(m.source);
    tests.push((e) => e.source !== undefined && set.has(e.source));
  }
  if (m.environment) {
    const set = new Set<string>(m.environment);
    tests.push((_e, env) => set.has(env));
  }
  if (m.data) {
    for (const [path, want] of Object.entries(m.data)) {
      const get = fieldGetter(`data.${path}`);
      tests.push((e) => get(e) === want);
    }
  }
  if (m.self !== undefined) {
    const fields = m.self === true ? ["target.id"] : Array.isArray(m.self) ? m.self : [m.self];
    const gets = fields.map(fieldGetter);
    tests.push((e) =>
      gets.some((get) => {
        const v = get(e);
        return Array.isArray(v) ? v.includes(e.actor.id) : v === e.actor.id;
      }),
    );
  }
  if (m.outsideHours) {
    const outside = hoursTest(m.outsideHours);
    tests.push((_e, _env, t) => outside(t));
  }
  if (tests.length === 0) return () => true;
  return (e, env, t) => {
    for (const test of tests) if (!test(e, env, t)) return false;
    return true;
  };
}

function compile(rule: Rule): CompiledRule {
  const names = Object.keys(rule.groupBy);
  return {
    rule,
    json: JSON.stringify(rule),
    matches: compileMatch(rule),
    group: { names, get: names.map((n) => fieldGetter(rule.groupBy[n]!)) },
    field: "field" in rule.condition ? fieldGetter(rule.condition.field) : undefined,
    ...ruleTimings(rule),
    groups: new Map(),
    stats: { matched: 0, fired: 0, errors: 0, evicted: 0 },
    logged: false,
  };
}

const sha16 = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16);

/** `<rule>:<first 16 hex of sha256 of the group as JSON, keys sorted>`: stable per rule and group. */
export function fingerprintOf(ruleId: string, group: Record<string, string>): string {
  const sorted = Object.fromEntries(
    Object.keys(group)
      .sort()
      .map((k) => [k, group[k]]),
  );
  return `${ruleId}:${sha16(JSON.stringify(sorted))}`;
}

function resolve(ctx: Record<string, unknown>, path: string): string {
  const parts = path.split(".");
  if (parts[0] === "event" && (parts[1] === "sensitive" || parts[1] === "personal")) return "?";
  let v: unknown = ctx;
  for (const p of parts) v = own(v, p);
  return scalarText(v) ?? "?";
}

/** Renders `{{count}}`, `{{group.x}}`, `{{event.data.x}}`…; what is missing shows as `?`. */
export function renderSummary(template: string, ctx: Record<string, unknown>): string {
  return template
    .replace(/\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g, (_m, path: string) => resolve(ctx, path))
    .slice(0, 500);
}

const isDetectType = (type: string) => type.startsWith("detect.");

/** A detection engine over `rules()`; see DetectorOptions. */
export function createDetector(o: DetectorOptions): Detector {
  const maxGroups = o.maxGroupsPerRule ?? 100_000;
  let source: readonly Rule[] | undefined;
  let compiled: CompiledRule[] = [];
  let exact = new Map<string, CompiledRule[]>();
  let prefixes: Array<{ prefix: string; rule: CompiledRule; detect: boolean }> = [];
  let byType = new Map<string, CompiledRule[]>();
  let seen = o.seen;
  let lastSweep = 0;
  const totals = { events: 0, detections: 0 };

  function rebuild(rules: readonly Rule[]): void {
    const previous = new Map(compiled.map((c) => [c.rule.id, c]));
    compiled = rules.map((r) => {
      const prev = previous.get(r.id);
      return prev && prev.json === JSON.stringify(r) ? prev : compile(r);
    });
    exact = new Map();
    prefixes = [];
    byType = new Map();
    for (const c of compiled)
      for (const t of new Set(c.rule.match.type)) {
        if (t.endsWith("*")) {
          const prefix = t.slice(0, -1);
          prefixes.push({ prefix, rule: c, detect: isDetectType(prefix) });
        } else {
          const list = exact.get(t);
          if (list) list.push(c);
          else exact.set(t, [c]);
        }
      }
    if (!seen && compiled.some((c) => c.rule.condition.kind === "first_seen")) {
      const longest = Math.max(...compiled.map((c) => c.rememberMs));
      seen = createSeenStore({ clock: o.clock, rememberMs: longest, logger: o.logger });
    }
  }

  function rulesFor(type: string): CompiledRule[] {
    const cached = byType.get(type);
    if (cached) return cached;
    // detect.* events meet only rules that name a detect. type: a detection never feeds itself.
    const detect = isDetectType(type);
    const list = [...(exact.get(type) ?? [])];
    for (const p of prefixes)
      if (type.startsWith(p.prefix) && (!detect || p.detect) && !list.includes(p.rule)) list.push(p.rule);
    if (byType.size < MAX_TYPE_CACHE) byType.set(type, list);
    return list;
  }

  function sweep(now: number): void {
    lastSweep = now;
    for (const c of compiled) {
      const ttl = Math.max(c.windowMs, c.suppressMs);
      for (const [key, st] of c.groups) if (st.touched + ttl < now) c.groups.delete(key);
    }
  }

  /**
   * The group's state. Map order is insertion order; a touch only stamps the time, and eviction
   * gives recently touched groups a second chance (moved to the back): near-LRU without a Map
   * delete and set per event.
   */
  function stateOf(c: CompiledRule, key: string, now: number): GroupState {
    let st = c.groups.get(key);
    if (st) {
      st.touched = now;
      return st;
    }
    if (c.groups.size >= maxGroups) evictOne(c, now);
    st = { touched: now, quietUntil: -Infinity };
    const cond = c.rule.condition;
    if (cond.kind === "count") st.count = countWindow(c.windowMs);
    else if (cond.kind === "distinct") st.distinct = distinctWindow(c.windowMs, cond.threshold);
    c.groups.set(key, st);
    return st;
  }

  function evictOne(c: CompiledRule, now: number): void {
    for (let tries = 0; tries < 64; tries++) {
      const first = c.groups.entries().next().value;
      if (!first) return;
      const [key, st] = first;
      c.groups.delete(key);
      // Touched since it was queued (this batch): back of the queue, once.
      if (st.touched >= now && tries < 63) {
        st.touched = now - 1;
        c.groups.set(key, st);
        continue;
      }
      c.stats.evicted++;
      return;
    }
  }

  function remember(st: GroupState, e: SecurityEvent, t: number): void {
    const r = (st.evidence ??= { ids: [], times: [], actors: [], targets: [], next: 0 });
    const i = r.next;
    r.ids[i] = e.id;
    r.times[i] = t;
    r.actors[i] = e.actor;
    r.targets[i] = e.target;
    r.next = (i + 1) % MAX_EVIDENCE;
  }

  /** The ring's events newer than `edge`, oldest first. */
  function evidenceSince(st: GroupState, edge: number): Evidence[] {
    const r = st.evidence;
    if (!r) return [];
    const out: Evidence[] = [];
    const n = r.ids.length;
    for (let j = 0; j < n; j++) {
      const i = n < MAX_EVIDENCE ? j : (r.next + j) % MAX_EVIDENCE;
      if (r.times[i]! > edge)
        out.push({ id: r.ids[i]!, t: r.times[i]!, actor: r.actors[i]!, target: r.targets[i] });
    }
    return out.sort((x, y) => x.t - y.t);
  }

  function detection(
    c: CompiledRule,
    group: Record<string, string>,
    count: number,
    span: { first: number; last: number },
    evidence: Evidence[],
    e: SecurityEvent,
    now: number,
  ): Detection {
    const entities: EventRef[] = [];
    const known = new Set<string>();
    for (const ev of evidence)
      for (const ref of [ev.actor, ev.target]) {
        if (!ref || entities.length >= MAX_EVIDENCE) continue;
        const k = `${ref.kind}\0${ref.id}`;
        if (known.has(k)) continue;
        known.add(k);
        entities.push({ kind: ref.kind, id: ref.id });
      }
    const { rule } = c;
    const summaryTemplate =
      rule.summary ??
      `${rule.title}${
        Object.keys(group).length
          ? ": " +
            Object.keys(group)
              .map((k) => `${k}={{group.${k}}}`)
              .join(", ")
          : ""
      }`;
    const summary = renderSummary(summaryTemplate, {
      count,
      group,
      event: e,
      rule: { id: rule.id, title: rule.title, priority: rule.priority },
    });
    return {
      id: randomUUID(),
      rule: rule.id,
      title: rule.title,
      priority: rule.priority,
      fingerprint: fingerprintOf(rule.id, group),
      group,
      count,
      firstAt: new Date(span.first).toISOString(),
      lastAt: new Date(span.last).toISOString(),
      firedAt: new Date(now).toISOString(),
      events: evidence.slice(-MAX_EVIDENCE).map((ev) => ev.id),
      entities,
      summary,
    };
  }

  function groupOf(c: CompiledRule, values: string[], extra?: [string, string]): Record<string, string> {
    const group: Record<string, string> = {};
    c.group.names.forEach((n, i) => (group[n] = values[i]!));
    if (extra) group[extra[0]] = extra[1];
    return group;
  }

  /** Feeds one matching event to a rule; returns a detection when the rule fires. */
  function observe(c: CompiledRule, e: SecurityEvent, t: number, now: number): Detection | undefined {
    // An event without a grouping field cannot be placed in a group: the rule skips it.
    let key: string;
    let many: string[] | undefined;
    const gets = c.group.get;
    if (gets.length === 1) {
      const v = scalarText(gets[0]!(e));
      if (v === undefined) return undefined;
      key = v;
    } else {
      many = [];
      for (const get of gets) {
        const v = scalarText(get(e));
        if (v === undefined) return undefined;
        many.push(v);
      }
      key = gets.length === 0 ? "" : JSON.stringify(many);
    }
    const cond = c.rule.condition;
    switch (cond.kind) {
      case "count": {
        const st = stateOf(c, key, now);
        const w = st.count!;
        if (!addCount(w, t, weightOf(e))) return undefined;
        remember(st, e, t);
        if (w.total < cond.threshold || t < st.quietUntil) return undefined;
        const edge = w.latest - w.windowMs;
        const d = detection(
          c,
          groupOf(c, many ?? [key]),
          w.total,
          countSpan(w),
          evidenceSince(st, edge),
          e,
          now,
        );
        // The window starts over: another `threshold` events are needed to fire again.
        clearCounts(w);
        st.evidence = undefined;
        st.quietUntil = t + c.suppressMs;
        return d;
      }
      case "distinct": {
        const v = scalarText(c.field!(e));
        if (v === undefined) return undefined;
        const st = stateOf(c, key, now);
        const w = st.distinct!;
        const n = addDistinct(w, v, t);
        remember(st, e, t);
        if (n < cond.threshold || t < st.quietUntil) return undefined;
        const edge = w.latest - w.windowMs;
        const d = detection(
          c,
          groupOf(c, many ?? [key]),
          n,
          distinctSpan(w),
          evidenceSince(st, edge),
          e,
          now,
        );
        w.values.clear();
        st.evidence = undefined;
        st.quietUntil = t + c.suppressMs;
        return d;
      }
      case "first_seen": {
        const v = scalarText(c.field!(e));
        if (v === undefined || !seen) return undefined;
        const notBefore = t - c.rememberMs;
        if (seen.has(c.rule.id, key, v, notBefore)) {
          seen.add(c.rule.id, key, v, t);
          return undefined;
        }
        const known = seen.knownCount(c.rule.id, key, notBefore);
        seen.add(c.rule.id, key, v, t);
        if (known < cond.minKnown) return undefined; // the first values set the baseline
        const name = cond.as ?? cond.field.slice(cond.field.lastIndexOf(".") + 1);
        // Quiet per (group, value): a second new address is a second detection.
        const st = stateOf(c, JSON.stringify([...(many ?? [key]), v]), now);
        if (t < st.quietUntil) return undefined;
        st.quietUntil = t + c.suppressMs;
        const ev = { id: e.id, t, actor: e.actor, target: e.target };
        return detection(
          c,
          groupOf(c, many ?? [key], [name, v]),
          known + 1,
          { first: t, last: t },
          [ev],
          e,
          now,
        );
      }
      case "each": {
        const st = stateOf(c, key, now);
        if (t < st.quietUntil) return undefined;
        st.quietUntil = t + c.suppressMs;
        const ev = { id: e.id, t, actor: e.actor, target: e.target };
        return detection(c, groupOf(c, many ?? [key]), weightOf(e), { first: t, last: t }, [ev], e, now);
      }
    }
  }

  return {
    process(events) {
      const rules = o.rules();
      if (rules !== source) {
        source = rules;
        rebuild(rules);
      }
      const now = o.clock.now().getTime();
      if (now - lastSweep >= SWEEP_EVERY_MS) sweep(now);
      const env = o.environment();
      const out: Detection[] = [];
      for (const e of events) {
        totals.events++;
        const list = rulesFor(e.type);
        if (list.length === 0) continue;
        const at = Date.parse(e.time);
        if (!Number.isFinite(at)) continue;
        for (const c of list) {
          try {
            if (!c.matches(e, env, at)) continue;
            c.stats.matched++;
            const d = observe(c, e, at, now);
            if (d) {
              c.stats.fired++;
              out.push(d);
            }
          } catch (err) {
            // One broken rule must not blind the others.
            c.stats.errors++;
            if (!c.logged) {
              c.logged = true;
              o.logger?.error({ rule: c.rule.id, err: (err as Error).message }, "detect: rule failed");
            }
          }
        }
      }
      totals.detections += out.length;
      for (const d of out) {
        try {
          o.onDetection(d);
        } catch (err) {
          o.logger?.error({ rule: d.rule, err: (err as Error).message }, "detect: onDetection failed");
        }
      }
      return out;
    },
    stats() {
      const perRule: Record<string, RuleStats> = {};
      let matched = 0;
      let errors = 0;
      let groups = 0;
      let entries = 0;
      let evictedGroups = 0;
      for (const c of compiled) {
        perRule[c.rule.id] = { ...c.stats, groups: c.groups.size };
        matched += c.stats.matched;
        errors += c.stats.errors;
        groups += c.groups.size;
        evictedGroups += c.stats.evicted;
        for (const st of c.groups.values())
          entries += (st.count ? countBuckets(st.count) : 0) + (st.distinct?.values.size ?? 0);
      }
      return {
        rules: compiled.length,
        events: totals.events,
        matched,
        detections: totals.detections,
        errors,
        groups,
        entries,
        evictedGroups,
        perRule,
      };
    },
    reset() {
      for (const c of compiled) c.groups.clear();
    },
  };
}

// Each condition of a rule compiled once into a test (the hot path: no parsing, Sets and integer
// ranges) and a reason (for `explain` only, so it may be slow and verbose).
import type { AccessRequest, Identity } from "../types.ts";
import { compileCidrs, parseIp, type ParsedIp } from "./cidr.ts";
import { compileGlob, type SegmentsMatcher } from "./glob.ts";
import type { RuleConditions } from "./schema.ts";
import { type ZoneClock, zoneClock } from "./time.ts";

const ENCODED_SEPARATOR = /\/|%2f|%5c/;

/** One request's facts, with the costly derived ones computed at most once and only if needed. */
export class Facts {
  readonly id: Identity | undefined;
  readonly req: AccessRequest;
  #segments: string[] | undefined;
  #ip: ParsedIp | null | undefined;
  constructor(id: Identity | undefined, req: AccessRequest) {
    this.id = id;
    this.req = req;
  }
  get segments(): string[] {
    if (this.#segments === undefined) {
      const path = this.req.path.toLowerCase();
      // An encoded slash or backslash separates too, for upstreams that decode them: a deny on
      // `/admin/**` must hold for `/admin%2Fusers`.
      this.#segments = path.includes("%") ? path.split(ENCODED_SEPARATOR) : path.split("/");
    }
    return this.#segments;
  }
  /** Null when the request's IP is not an address. */
  get ip(): ParsedIp | null {
    if (this.#ip === undefined) this.#ip = parseIp(this.req.ip) ?? null;
    return this.#ip;
  }
  /** The email, lowercased, when the provider verified it; policies ignore unverified ones. */
  get verifiedEmail(): string | undefined {
    const id = this.id;
    return id?.email !== undefined && id.emailVerified === true ? id.email.toLowerCase() : undefined;
  }
}

export interface Condition {
  name: keyof RuleConditions;
  test(f: Facts): boolean;
  reason(f: Facts, held: boolean): string;
}

type Kind = "allow" | "deny";
const show = (values: Iterable<unknown>) => `[${[...values].map((v) => JSON.stringify(v)).join(", ")}]`;
const NO_IDENTITY = "no signed-in identity";
/** A fact that is absent (no email, no country): matches nothing, and allocates nothing. */
const NONE: readonly string[] = Object.freeze([]);

function anyOf(
  name: Condition["name"],
  values: readonly string[],
  facts: (f: Facts) => readonly string[] | string | undefined,
  label: string,
): Condition {
  const set = new Set(values);
  return {
    name,
    test(f) {
      const have = facts(f);
      if (have === undefined) return false;
      if (typeof have === "string") return set.has(have);
      for (let i = 0; i < have.length; i++) if (set.has(have[i] as string)) return true;
      return false;
    },
    reason(f, held) {
      const have = facts(f);
      if (have === undefined) return f.id === undefined ? NO_IDENTITY : `no ${label}`;
      const list = typeof have === "string" ? [have] : have;
      if (list.length === 0) return `no ${label}`;
      return held
        ? `${label} ${show(list.filter((v) => set.has(v)))} listed`
        : `${label} ${show(list)} not in ${show(set)}`;
    },
  };
}

/** A claim by exact name first (namespaced names contain dots), else by walking a dotted name. */
function claimAt(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let at: unknown = claims;
  for (const key of name.split(".")) {
    // Own properties only: a claim name must never reach Object.prototype.
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function claimsCondition(claims: Record<string, readonly (string | number | boolean)[]>): Condition {
  const wanted = Object.entries(claims).map(([name, values]) => [name, new Set(values)] as const);
  const holds = (value: unknown, accepted: Set<unknown>) =>
    Array.isArray(value) ? value.some((v) => accepted.has(v)) : accepted.has(value);
  return {
    name: "claims",
    test(f) {
      if (f.id === undefined) return false;
      for (const [name, accepted] of wanted) if (!holds(claimAt(f.id.claims, name), accepted)) return false;
      return true;
    },
    reason(f, held) {
      if (f.id === undefined) return NO_IDENTITY;
      const claimsOf = f.id.claims;
      const verdicts = wanted.map(([name, accepted]) => {
        const value = claimAt(claimsOf, name);
        const ok = holds(value, accepted);
        if (value === undefined) return { ok, text: `claim ${name} absent` };
        return {
          ok,
          text: `claim ${name} = ${JSON.stringify(value)} ${ok ? "accepted" : `not in ${show(accepted)}`}`,
        };
      });
      // When it failed, the claims that failed are the interesting ones.
      return verdicts
        .filter((v) => held || !v.ok)
        .map((v) => v.text)
        .join("; ");
    },
  };
}

function sourceCidrsCondition(ranges: readonly string[], kind: Kind): Condition {
  const cidrs = compileCidrs(ranges);
  return {
    name: "sourceCidrs",
    // An IP that is not an address (never from a socket) fails closed: it matches deny rules.
    test: (f) => (f.ip === null ? kind === "deny" : cidrs.has(f.ip)),
    reason(f, held) {
      if (f.ip === null) return `client IP ${JSON.stringify(f.req.ip)} is not an address (counts against it)`;
      return `client IP ${f.req.ip} ${held ? "in" : "not in"} ${show(ranges)}`;
    },
  };
}

function pathsCondition(globs: readonly string[]): Condition {
  const matchers = globs.map((g) => compileGlob(g, "/"));
  const matching = (f: Facts) => globs.filter((_, i) => (matchers[i] as SegmentsMatcher)(f.segments));
  return {
    name: "paths",
    test(f) {
      const segments = f.segments;
      for (let i = 0; i < matchers.length; i++) if ((matchers[i] as SegmentsMatcher)(segments)) return true;
      return false;
    },
    reason: (f, held) =>
      held
        ? `path ${f.req.path} matches ${show(matching(f))}`
        : `path ${f.req.path} matches none of ${show(globs)}`,
  };
}

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;

function timeCondition(w: NonNullable<RuleConditions["time"]>, clocks: Map<string, ZoneClock>): Condition {
  let clock = clocks.get(w.timeZone);
  if (!clock) clocks.set(w.timeZone, (clock = zoneClock(w.timeZone)));
  const zone = clock;
  // Days as a bit set over the week, Sunday = bit 0.
  const days = w.days === undefined ? 0x7f : w.days.reduce((bits, d) => bits | (1 << d), 0);
  const from = w.from;
  const to = w.to;
  const within = (minuteOfWeek: number) => {
    const day = Math.floor(minuteOfWeek / 1440);
    const minute = minuteOfWeek - day * 1440;
    if (from === undefined || to === undefined) return (days & (1 << day)) !== 0;
    if (from < to) return minute >= from && minute < to && (days & (1 << day)) !== 0;
    // Crossing midnight: the early hours belong to the window opened the day before.
    return (
      (minute >= from && (days & (1 << day)) !== 0) || (minute < to && (days & (1 << ((day + 6) % 7))) !== 0)
    );
  };
  const windowText = `${w.days ? w.days.map((d) => DAY_NAMES[d]).join(",") : "every day"}${from !== undefined && to !== undefined ? ` ${hhmm(from)}-${hhmm(to)}` : ""} ${w.timeZone}`;
  return {
    name: "time",
    test: (f) => within(zone(f.req.now.getTime())),
    reason(f, held) {
      const m = zone(f.req.now.getTime());
      const local = `${DAY_NAMES[Math.floor(m / 1440)]} ${hhmm(m % 1440)} ${w.timeZone}`;
      return `${local} ${held ? "within" : "outside"} ${windowText}`;
    },
  };
}

function clientCertificateCondition(c: NonNullable<RuleConditions["clientCertificate"]>): Condition {
  const fingerprints = c.fingerprints && new Set(c.fingerprints);
  const subjects = c.subjects && new Set(c.subjects);
  const sans = c.sans && new Set(c.sans);
  const failing = (f: Facts): string | undefined => {
    const cert = f.req.clientCertificate;
    if (cert === undefined) return "no client certificate";
    if (fingerprints && !fingerprints.has(cert.fingerprint.toLowerCase()))
      return `fingerprint ${cert.fingerprint} not listed`;
    if (subjects && !subjects.has(cert.subject)) return `subject ${JSON.stringify(cert.subject)} not listed`;
    if (sans && !cert.san.some((s) => sans.has(s))) return `SANs ${show(cert.san)} not in ${show(sans)}`;
    return undefined;
  };
  return {
    name: "clientCertificate",
    test: (f) => failing(f) === undefined,
    reason: (f) =>
      failing(f) ?? `client certificate ${JSON.stringify(f.req.clientCertificate?.subject)} accepted`,
  };
}

/** Compiles a rule's conditions; `clocks` shares one zone clock between rules. */
export function compileConditions(
  when: RuleConditions,
  kind: Kind,
  clocks: Map<string, ZoneClock>,
): Condition[] {
  const out: Condition[] = [];
  if (when.users) {
    const users = when.users;
    const subjects = anyOf("users", users, (f) => f.id?.subject, "subject");
    const emails = anyOf(
      "users",
      users.map((u) => u.toLowerCase()),
      (f) => f.verifiedEmail,
      "verified email",
    );
    out.push({
      name: "users",
      test: (f) => subjects.test(f) || emails.test(f),
      reason: (f, held) =>
        f.id === undefined
          ? NO_IDENTITY
          : held
            ? subjects.test(f)
              ? subjects.reason(f, true)
              : emails.reason(f, true)
            : `neither subject ${JSON.stringify(f.id.subject)} nor a verified email (${f.verifiedEmail ?? "none"}) is in ${show(users)}`,
    });
  }
  if (when.emails)
    out.push(
      anyOf("emails", when.emails, (f) => (f.id ? (f.verifiedEmail ?? NONE) : undefined), "verified email"),
    );
  if (when.domains)
    out.push(
      anyOf(
        "domains",
        when.domains,
        (f) => {
          if (f.id === undefined) return undefined;
          const email = f.verifiedEmail;
          return email === undefined ? NONE : email.slice(email.lastIndexOf("@") + 1);
        },
        "verified email domain",
      ),
    );
  if (when.groups) out.push(anyOf("groups", when.groups, (f) => f.id?.groups, "groups"));
  if (when.roles) out.push(anyOf("roles", when.roles, (f) => f.id?.roles, "roles"));
  if (when.claims) out.push(claimsCondition(when.claims));
  if (when.serviceAccounts)
    out.push(
      anyOf(
        "serviceAccounts",
        when.serviceAccounts,
        (f) => (f.id === undefined ? undefined : f.id.kind === "service" ? f.id.subject : NONE),
        "service account",
      ),
    );
  if (when.kind) out.push(anyOf("kind", when.kind, (f) => f.id?.kind, "kind"));
  if (when.credential) out.push(anyOf("credential", when.credential, (f) => f.id?.credential, "credential"));
  if (when.sourceCidrs) out.push(sourceCidrsCondition(when.sourceCidrs, kind));
  if (when.countries)
    out.push(anyOf("countries", when.countries, (f) => f.req.country?.toUpperCase() ?? NONE, "country"));
  if (when.methods) out.push(anyOf("methods", when.methods, (f) => f.req.method.toUpperCase(), "method"));
  if (when.paths) out.push(pathsCondition(when.paths));
  if (when.time) out.push(timeCondition(when.time, clocks));
  if (when.clientCertificate) out.push(clientCertificateCondition(when.clientCertificate));
  if (when.environments)
    out.push(anyOf("environments", when.environments, (f) => f.req.environment ?? NONE, "environment"));
  return out;
}

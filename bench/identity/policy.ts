// Route policy evaluation, ns/op: a realistic 20-rule policy compiled by `compilePolicy`, beside an
// anchor measured in the same run: the same rules decided by a plain interpreter that walks the raw
// config objects on every request (parse the CIDR, build the glob's regex, ask Intl for the time).
// Both decide every case first and must agree; the output says so. Run: node bench/identity/policy.ts
import ipaddr from "ipaddr.js";
import { compilePolicy, parseRoutePolicy } from "../../src/identity/policy/index.ts";
import type { AccessRequest, Identity } from "../../src/identity/types.ts";
import { POLICY } from "./twenty-rules.ts";

const CASES = Number(process.env.BENCH_CASES ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);

type Raw = Record<string, unknown>;

// A small deterministic generator, so every run decides the same cases.
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const some = <T>(xs: readonly T[], max: number): T[] => [
  ...new Set(Array.from({ length: Math.floor(random() * (max + 1)) }, () => pick(xs))),
];

const GROUPS = ["sre", "platform", "finance", "dev", "support", "auditors", "contractors", "staff", "sales"];
const ROLES = ["oncall", "db-admin", "operator", "developer"];
const PATHS = [
  "/admin/users",
  "/admin",
  "/metrics",
  "/healthz",
  "/billing/2026/11",
  "/reports/q3/finance",
  "/reports/q3/sales",
  "/wiki/Home",
  "/payments/refunds/42",
  "/api/v1/invoices/9",
  "/api/v1/x/invoices",
  "/db/primary/stats",
  "/board/minutes",
  "/beta/feature",
  "/tickets/123",
  "/artifacts/build/7.tgz",
  "/audit/log",
  "/",
  "/ADMIN/Settings",
];
const IPS = [
  "10.1.2.3",
  "10.20.4.5",
  "192.168.1.9",
  "203.0.113.7",
  "8.8.8.8",
  "2001:db8:bad::1",
  "fd00::5",
  "::ffff:10.9.9.9",
  "81.2.69.142",
];
const COUNTRIES = [undefined, "GB", "IN", "US", "KP", "DE", "IR"];

function identity(): Identity | undefined {
  const r = random();
  if (r < 0.1) return undefined;
  if (r < 0.3)
    return {
      kind: "service",
      subject: pick(["billing-worker", "invoice-mailer", "metrics-scraper", "deployer"]),
      groups: [],
      roles: [],
      claims: {},
      credential: pick(["access-token", "api-key", "client-certificate"] as const),
    };
  const n = Math.floor(random() * 20);
  return {
    kind: "user",
    subject: `corp:u${n}`,
    provider: "corp",
    email: pick([`u${n}@example.com`, `u${n}@Example.com`, `u${n}@partner.io`, "ceo@example.com"]),
    emailVerified: random() < 0.85,
    groups: some(GROUPS, 3),
    roles: some(ROLES, 2),
    claims: {
      department: pick(["security", "engineering", "finance"]),
      org: { unit: some(["payments", "risk", "growth"], 2) },
    },
    credential: "session",
  };
}

function request(): AccessRequest {
  const country = pick(COUNTRIES);
  return {
    method: pick(["GET", "GET", "GET", "POST", "PUT", "DELETE"]),
    path: pick(PATHS),
    host: "tools.example.com",
    ip: pick(IPS),
    ...(country ? { country } : {}),
    environment: pick(["prod", "staging", "dev"]),
    ...(random() < 0.1
      ? {
          clientCertificate: {
            subject: "CN=build",
            fingerprint: "ab".repeat(32),
            san: [pick(["DNS:build.internal", "DNS:other"])],
          },
        }
      : {}),
    // Spread over a year, so time windows, days and DST both ways are exercised.
    now: new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 365 * 24 * 60) * 60_000),
  };
}

// --- The anchor: a straightforward interpreter over the raw config objects. ---

const lower = (s: string) => s.toLowerCase();
const verified = (id: Identity) => (id.email && id.emailVerified ? lower(id.email) : undefined);

function claim(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let at: unknown = claims;
  for (const k of name.split(".")) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, k)) return undefined;
    at = (at as Raw)[k];
  }
  return at;
}

function globRegex(glob: string): RegExp {
  const parts = lower(glob)
    .split("/")
    .map((s) =>
      s === "**"
        ? "\u0000"
        : s
            .split("*")
            .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
            .join("[^/]*"),
    );
  return new RegExp(`^${parts.join("/").replaceAll("/\u0000", "(?:/[^/]*)*")}$`);
}

function localTime(now: Date, timeZone: string): { day: number; minute: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "short",
    hour: "numeric",
    minute: "numeric",
    hourCycle: "h23",
  }).formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return {
    day: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(get("weekday")),
    minute: Number(get("hour")) * 60 + Number(get("minute")),
  };
}

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const minutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3));

function holds(
  name: string,
  value: unknown,
  id: Identity | undefined,
  req: AccessRequest,
  kind: string,
): boolean {
  const list = (Array.isArray(value) ? value : [value]) as string[];
  switch (name) {
    case "users":
      return !!id && list.some((u) => u === id.subject || lower(u) === verified(id));
    case "emails":
      return !!id && list.some((e) => lower(e) === verified(id));
    case "domains":
      return !!id && list.some((d) => verified(id)?.split("@")[1] === lower(d));
    case "groups":
      return !!id && list.some((g) => id.groups.includes(g));
    case "roles":
      return !!id && list.some((r) => id.roles.includes(r));
    case "claims":
      return (
        !!id &&
        Object.entries(value as Record<string, unknown[]>).every(([n, accepted]) => {
          const v = claim(id.claims, n);
          return Array.isArray(v) ? v.some((x) => accepted.includes(x)) : accepted.includes(v);
        })
      );
    case "serviceAccounts":
      return !!id && id.kind === "service" && list.includes(id.subject);
    case "kind":
      return !!id && list.includes(id.kind);
    case "credential":
      return !!id && list.includes(id.credential);
    case "sourceCidrs": {
      if (!ipaddr.isValid(req.ip)) return kind === "deny";
      const ip = ipaddr.process(req.ip);
      return list.some((c) => {
        const [net, bits] = c.includes("/")
          ? ipaddr.parseCIDR(c)
          : [ipaddr.parse(c), ipaddr.parse(c).kind() === "ipv4" ? 32 : 128];
        return ip.kind() === net.kind() && ip.match(net, bits);
      });
    }
    case "countries":
      return req.country !== undefined && list.includes(req.country.toUpperCase());
    case "methods":
      return list.some((m) => m.toUpperCase() === req.method.toUpperCase());
    case "paths":
      return list.some((g) => globRegex(g).test(lower(req.path)));
    case "environments":
      return req.environment !== undefined && list.includes(req.environment);
    case "clientCertificate": {
      const c = req.clientCertificate;
      const w = value as { fingerprints?: string[]; subjects?: string[]; sans?: string[] };
      return (
        !!c &&
        (!w.fingerprints ||
          w.fingerprints.some((f) => f.replaceAll(":", "").toLowerCase() === c.fingerprint)) &&
        (!w.subjects || w.subjects.includes(c.subject)) &&
        (!w.sans || c.san.some((s) => w.sans?.includes(s)))
      );
    }
    case "time": {
      const w = value as { days?: string[]; from?: string; to?: string; timeZone?: string };
      const { day, minute } = localTime(req.now, w.timeZone ?? "UTC");
      const on = (d: number) => !w.days || w.days.includes(DAYS[d] as string);
      if (!w.from || !w.to) return on(day);
      const from = minutes(w.from);
      const to = minutes(w.to);
      if (from < to) return minute >= from && minute < to && on(day);
      return (minute >= from && on(day)) || (minute < to && on((day + 6) % 7));
    }
  }
  throw new Error(`unknown condition ${name}`);
}

function interpret(policy: { rules: Raw[] }, id: Identity | undefined, req: AccessRequest): boolean {
  const matches = (kind: "allow" | "deny") =>
    policy.rules.some(
      (r) =>
        r[kind] !== undefined && Object.entries(r[kind] as Raw).every(([n, v]) => holds(n, v, id, req, kind)),
    );
  return !matches("deny") && matches("allow");
}

// --- The run. ---

const cases = Array.from({ length: CASES }, () => ({ id: identity(), req: request() }));
const compiled = compilePolicy(parseRoutePolicy(POLICY));

let disagreements = 0;
let allowedCount = 0;
for (const c of cases) {
  const a = compiled.evaluate(c.id, c.req).allowed;
  if (a) allowedCount++;
  if (a !== interpret(POLICY, c.id, c.req)) {
    disagreements++;
    if (disagreements <= 5) console.error("disagree:", JSON.stringify(c));
  }
}

function nsPerOp(decide: (id: Identity | undefined, req: AccessRequest) => boolean, rounds: number): number {
  let sink = 0;
  for (const c of cases) if (decide(c.id, c.req)) sink++; // warm-up
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const c of cases) if (decide(c.id, c.req)) sink++;
  const ns = Number(process.hrtime.bigint() - start) / (rounds * cases.length);
  if (sink < 0) console.log(sink);
  return ns;
}

// The interpreter is far slower: fewer rounds keep the run short; ns/op does not depend on them.
const anchorRounds = Math.max(1, Math.ceil(ROUNDS / 25));
const anchor = nsPerOp((id, req) => interpret(POLICY, id, req), anchorRounds);
const figure = nsPerOp((id, req) => compiled.evaluate(id, req).allowed, ROUNDS);

console.log(
  `route policy, ${POLICY.rules.length} rules, ${cases.length} varied identities and requests (${allowedCount} allowed)`,
);
console.log(`  compiled evaluate:     ${figure.toFixed(0).padStart(8)} ns/op  (${ROUNDS} rounds)`);
console.log(`  anchor (interpreter):  ${anchor.toFixed(0).padStart(8)} ns/op  (${anchorRounds} rounds)`);
console.log(
  `  ratio compiled/anchor: ${(figure / anchor).toFixed(3)}x  (${(anchor / figure).toFixed(1)} times faster)`,
);
console.log(
  disagreements === 0
    ? `  correctness: compiled and interpreter agree on all ${cases.length} cases`
    : `  correctness: DISAGREE on ${disagreements} of ${cases.length} cases`,
);
if (disagreements > 0) process.exitCode = 1;

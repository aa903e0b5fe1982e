// Realistic SecurityEvents for the audit benchmark, and the plain rows of the same shape and size
// that the anchor INSERT writes. Seeded, so every run appends the same mix.
import { newEvent, type SecurityEvent } from "../../src/platform/events/index.ts";
import type { AuditTables } from "../../src/monitoring/audit/index.ts";

/** Small deterministic PRNG (mulberry32): the same seed gives the same event mix in every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = 100;
const ROUTES = ["/api/orders", "/api/payments", "/api/users", "/admin/reports", "/api/search", "/login"];
const SECRETS = [
  "prod/payments/stripe-key",
  "prod/db/orders-rw",
  "staging/smtp/password",
  "prod/oidc/client",
];
const RULES = ["942100", "941100", "930120", "913100"] as const;

/**
 * `n` events with a realistic mix: WAF blocks and rate limits by IP, logins, secret reads carrying a
 * `sensitive` value, session revocations and JIT grants between people, config reloads by the system.
 * People are drawn from a bounded set of ~100 users, so pseudonymisation hits its cache after warm-up.
 */
export function makeEvents(n: number, start: Date, seed = 42): SecurityEvent[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const user = () => ({ kind: "user", id: `user${Math.floor(r() * USERS)}@corp.example.com` });
  const ip = () => `203.0.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`;
  const hex = (len: number) => {
    let s = "";
    while (s.length < len)
      s += Math.floor(r() * 2 ** 32)
        .toString(16)
        .padStart(8, "0");
    return s.slice(0, len);
  };
  const out: SecurityEvent[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const at = new Date(start.getTime() + i);
    const x = r();
    let e: SecurityEvent;
    if (x < 0.35) {
      const rule = pick(RULES);
      e = newEvent(
        {
          type: "waf.blocked",
          severity: "medium",
          outcome: "denied",
          actor: { kind: "ip", id: ip() },
          target: { kind: "route", id: pick(ROUTES) },
          data: { rule, path: `${pick(ROUTES)}/${Math.floor(r() * 1e5)}`, score: 5 },
          source: "gw-1",
        },
        at,
      );
    } else if (x < 0.6) {
      e = newEvent(
        {
          type: "auth.login",
          outcome: r() < 0.9 ? "success" : "failure",
          actor: user(),
          target: { kind: "app", id: "console" },
          data: { method: "oidc", ip: ip() },
          source: "server",
        },
        at,
      );
    } else if (x < 0.75) {
      e = newEvent(
        {
          type: "secret.read",
          actor: user(),
          target: { kind: "secret", id: pick(SECRETS) },
          data: { version: 1 + Math.floor(r() * 9) },
          sensitive: { value: `sk_live_${hex(32)}` },
          source: "server",
        },
        at,
      );
    } else if (x < 0.85) {
      e = newEvent(
        {
          type: "ratelimit.exceeded",
          severity: "low",
          outcome: "denied",
          actor: { kind: "ip", id: ip() },
          target: { kind: "route", id: pick(ROUTES) },
          data: { limit: 100, window: 60, observed: 100 + Math.floor(r() * 400) },
          source: "gw-2",
        },
        at,
      );
    } else if (x < 0.9) {
      e = newEvent(
        {
          type: "session.revoked",
          actor: user(),
          target: user(),
          data: { sessions: 1 + Math.floor(r() * 4), reason: "revoked by admin" },
          source: "server",
        },
        at,
      );
    } else if (x < 0.95) {
      e = newEvent(
        {
          type: "jit.granted",
          actor: user(),
          target: user(),
          data: { role: "db-admin", ttlSeconds: 3600, ticket: `OPS-${Math.floor(r() * 1e4)}` },
          source: "server",
        },
        at,
      );
    } else {
      e = newEvent(
        {
          type: "config.reloaded",
          actor: { kind: "system", id: "rampart" },
          data: { version: 1 + Math.floor(r() * 50), changed: ["network.waf"] },
          source: "server",
        },
        at,
      );
    }
    out[i] = e;
  }
  return out;
}

/** Row of the anchor table: the audit_entries columns, with sizes matching what the audit log writes. */
export type PlainRow = AuditTables["audit_entries"];

/**
 * The anchor's rows for `events`: same columns, a body of the same JSON with references replaced as
 * pseudonymisation would (`user:sk_` + 24 hex) and sensitive values as `hmac-sha256:` + 64 hex, and two
 * 32-byte byteas. Built before timing, with no hashing: random bytes stand in for leaf hash and MAC.
 */
export function plainRows(events: readonly SecurityEvent[], log: string, firstSeq: number): PlainRow[] {
  const r = prng(7);
  const fakeHex = (len: number) => {
    let s = "";
    while (s.length < len)
      s += Math.floor(r() * 2 ** 32)
        .toString(16)
        .padStart(8, "0");
    return s.slice(0, len);
  };
  const pseudo = new Map<string, string>();
  const ref = (x: { kind: string; id: string }) => {
    if (x.kind !== "user") return `${x.kind}:${x.id}`;
    let k = pseudo.get(x.id);
    if (!k) {
      k = `sk_${fakeHex(24)}`;
      pseudo.set(x.id, k);
    }
    return `user:${k}`;
  };
  const bytes = Buffer.alloc(events.length * 64);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
  return events.map((e, i) => {
    const seq = firstSeq + i;
    const actor = ref(e.actor);
    const target = e.target ? ref(e.target) : undefined;
    const body: Record<string, unknown> = {
      v: 1,
      log,
      seq,
      id: e.id,
      time: e.time,
      type: e.type,
      severity: e.severity,
      actor,
      outcome: e.outcome,
      data: e.data,
    };
    if (target) body.target = target;
    if (e.sensitive)
      body.hashed = Object.fromEntries(
        Object.keys(e.sensitive).map((k) => [k, `hmac-sha256:${fakeHex(64)}`]),
      );
    if (e.source) body.source = e.source;
    return {
      log_id: log,
      seq,
      id: e.id,
      time: new Date(e.time),
      type: e.type,
      actor,
      target: target ?? null,
      body: JSON.stringify(body),
      leaf_hash: bytes.subarray(i * 64, i * 64 + 32),
      mac: bytes.subarray(i * 64 + 32, i * 64 + 64),
    };
  });
}

// Audit growth per million requests: requests go through a `rampart gateway` whose events reach a
// real `rampart server` on PostgreSQL (the forwarder, the ingest API, the bus, the audit log), and
// the audit tables' on-disk size (pg_total_relation_size: heap, indexes, TOAST) and entry count are
// compared before and after, each time after VACUUM and CHECKPOINT. Two traffic shapes:
//  - a realistic mix from 5,000 client addresses: 95% allowed, 3% rate-limited, 1% WAF-blocked,
//    1% refused by an IP rule (allowed requests make no event; refusals are counted per decision,
//    route and client, and sent as one event per key per gateway.eventIntervalSeconds);
//  - the worst case: every request refused, each from an address of its own (one event each).
// Anchor: the bodies of the entries the phase added, written as plain rows of one jsonb column.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { Pool } from "undici";
import { freePort } from "../../test/support/services.ts";
import { CLI } from "./throughput.ts";
import { type Procs, waitServing } from "./procs.ts";

export interface Growth {
  shape: "mix" | "worst";
  requests: number;
  statuses: Record<string, number>;
  seconds: number;
  /** Entries the audit log gained. */
  entries: number;
  /** Growth of the audit tables (entries, logs, checkpoints, subjects, batch register), bytes. */
  auditBytes: number;
  /** Growth of the whole database (detections, incidents, outbox… included), bytes. */
  databaseBytes: number;
  /** Size of the same entries' bodies as plain jsonb rows, bytes. */
  anchorBytes: number;
  avgBodyBytes: number;
}

export interface AuditGrowth {
  eventIntervalSeconds: number;
  clients: number;
  phases: Growth[];
}

const AUDIT_TABLES = ["audit_entries", "audit_logs", "audit_checkpoints", "audit_subjects", "event_batches"];
const CLIENTS = 5000;
const EVENT_INTERVAL_S = 10;
// Requests a WAF block carries: a few attack payloads, as a scanner sends them.
const ATTACKS = [
  "/shop/search?q=%27%20OR%201%3D1--",
  "/shop/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E",
  "/shop/search?file=..%2F..%2F..%2Fetc%2Fpasswd",
  "/shop/search?q=1%20UNION%20SELECT%20username%2Cpassword%20FROM%20users",
  "/shop/search?cmd=%3Bcat%20%2Fetc%2Fshadow",
];

// The population: 10.20.0.0 upwards; the last 128 fall in the denied range 10.20.19.0/25.
const clientIp = (k: number) => `10.20.${k >> 8}.${k & 255}`;
const DENIED_FROM = 19 * 256;
const DENIED_COUNT = 128;
// Worst case: addresses of their own, from 100.64.0.0/10 (the IP-denied ones from 100.96.0.0/11).
const distinctIp = (k: number, denied: boolean) =>
  `100.${(denied ? 96 : 64) + ((k >> 16) & 31)}.${(k >> 8) & 255}.${k & 255}`;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Req {
  path: string;
  ip: string;
}

function mixRequest(r: () => number, i: number): Req {
  const x = r();
  const client = () => clientIp(Math.floor(r() * (CLIENTS - DENIED_COUNT)));
  if (x < 0.95) return { path: `/shop/products?id=${i % 997}&ref=home`, ip: client() };
  if (x < 0.98) return { path: "/api/export?format=csv", ip: client() };
  if (x < 0.99) return { path: ATTACKS[Math.floor(r() * ATTACKS.length)] as string, ip: client() };
  return { path: "/shop/products?id=1", ip: clientIp(DENIED_FROM + Math.floor(r() * DENIED_COUNT)) };
}

// Refusals only, in the mix's proportions (3 rate-limited : 1 WAF : 1 IP rule), each a new client.
function worstRequest(r: () => number, i: number): Req {
  const x = r();
  if (x < 0.6) return { path: "/api/export?format=csv", ip: distinctIp(i, false) };
  if (x < 0.8) return { path: ATTACKS[i % ATTACKS.length] as string, ip: distinctIp(i, false) };
  return { path: "/shop/products?id=1", ip: distinctIp(i, true) };
}

async function drive(
  url: string,
  n: number,
  make: (r: () => number, i: number) => Req,
  progress: (msg: string) => void,
): Promise<{ statuses: Record<string, number>; seconds: number }> {
  const pool = new Pool(url, { connections: 32 });
  const r = prng(n);
  const statuses: Record<string, number> = {};
  let next = 0;
  const t0 = performance.now();
  let shown = t0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const { path, ip } = make(r, i);
      const res = await pool.request({ method: "GET", path, headers: { "x-forwarded-for": ip } });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (performance.now() - shown > 5000) {
        shown = performance.now();
        progress(`audit: ${next.toLocaleString("en")}/${n.toLocaleString("en")} requests`);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return { statuses, seconds };
}

interface Snapshot {
  entries: number;
  auditBytes: number;
  databaseBytes: number;
  lastSeq: Map<string, number>;
}

async function snapshot(db: pg.Client): Promise<Snapshot> {
  await db.query("vacuum analyze");
  await db.query("checkpoint");
  const sizes = await db.query<{ n: string }>(
    `select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as n from pg_class c
       join pg_namespace s on s.oid = c.relnamespace
      where s.nspname = current_schema() and c.relkind = 'r' and c.relname = any($1)`,
    [AUDIT_TABLES],
  );
  const dbSize = await db.query<{ n: string }>("select pg_database_size(current_database())::bigint as n");
  const seqs = await db.query<{ log_id: string; seq: string; n: string }>(
    "select log_id, max(seq) as seq, count(*) as n from audit_entries group by log_id",
  );
  return {
    entries: seqs.rows.reduce((a, r) => a + Number(r.n), 0),
    auditBytes: Number(sizes.rows[0]?.n),
    databaseBytes: Number(dbSize.rows[0]?.n),
    lastSeq: new Map(seqs.rows.map((r) => [r.log_id, Number(r.seq)])),
  };
}

/** Waits until the audit log has gained no entry for `quietMs` (the gateway has sent everything). */
async function settled(db: pg.Client, quietMs: number): Promise<void> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const n = Number((await db.query<{ n: string }>("select count(*) as n from audit_entries")).rows[0]?.n);
    if (n !== last) [last, since] = [n, performance.now()];
    else if (performance.now() - since >= quietMs) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The entries a phase added (seq past the last one before it, per log), as one jsonb column.
async function anchorBytes(db: pg.Client, before: Map<string, number>): Promise<[number, number]> {
  await db.query("drop table if exists sizing_anchor");
  await db.query("create table sizing_anchor (body jsonb not null)");
  const logs = [...before.keys()];
  const seqs = logs.map((l) => before.get(l) as number);
  await db.query(
    `insert into sizing_anchor (body)
     select e.body::jsonb from audit_entries e
       left join unnest($1::text[], $2::bigint[]) as b(log_id, seq) on b.log_id = e.log_id
      where e.seq > coalesce(b.seq, -1)`,
    [logs, seqs],
  );
  await db.query("vacuum analyze sizing_anchor");
  await db.query("checkpoint");
  const r = await db.query<{ n: string; avg: string }>(
    `select pg_total_relation_size('sizing_anchor')::bigint as n,
            (select avg(octet_length(body::text)) from sizing_anchor) as avg`,
  );
  await db.query("drop table sizing_anchor");
  return [Number(r.rows[0]?.n), Number(r.rows[0]?.avg)];
}

export async function auditGrowth(o: {
  procs: Procs;
  dir: string;
  pgUrl: string;
  redisUrl: string;
  upstreamPort: number;
  requests: number;
  worstRequests: number;
  progress: (msg: string) => void;
}): Promise<AuditGrowth> {
  const { procs, dir } = o;
  const token = randomBytes(24).toString("hex");
  const [serverPort, gatewayPort] = await Promise.all([freePort(), freePort()]);
  const serverFile = join(dir, "server.yaml");
  writeFileSync(
    serverFile,
    [
      "version: 1",
      `server: { host: 127.0.0.1, port: ${serverPort} }`,
      `database: { url: "${o.pgUrl}", dataDir: "${join(dir, "server-data")}" }`,
      `hotState: { redisUrl: "${o.redisUrl}" }`,
      `events: { ingestTokens: [{ name: edge, token: "${token}" }] }`,
      "playbooks: { dirs: [], builtins: false }",
      "",
    ].join("\n"),
  );
  o.progress("audit: starting rampart server on PostgreSQL");
  const server = procs.start(undefined, process.execPath, [CLI, "server", "-c", serverFile], {
    ...process.env,
    LOG_LEVEL: "error",
  });
  const serverUrl = `http://127.0.0.1:${serverPort}`;
  await waitServing(`${serverUrl}/healthz`, server, { anyStatus: true });

  const upstream = `http://127.0.0.1:${o.upstreamPort}`;
  const gatewayFile = join(dir, "gateway-audit.yaml");
  const spoolDir = join(dir, "spool");
  writeFileSync(
    gatewayFile,
    [
      "version: 1",
      `hotState: { redisUrl: "${o.redisUrl}" }`,
      "gateway:",
      `  port: ${gatewayPort}`,
      "  trustedProxies: [127.0.0.1]",
      "  ipRules: { deny: [10.20.19.0/25, 100.96.0.0/11] }",
      `  eventIntervalSeconds: ${EVENT_INTERVAL_S}`,
      `  controlPlane: { url: "${serverUrl}", token: "${token}", spoolDir: "${spoolDir}" }`,
      "routes:",
      "  - id: shop",
      "    path: /",
      `    upstream: ${upstream}`,
      "    waf: { mode: block }",
      "    rateLimits: [{ name: per-ip, limit: 100000000, windowSeconds: 60 }]",
      // One shared budget: after the first request in the hour every export is refused, and each
      // refusal is still counted against its own client.
      "  - id: export",
      "    path: /api/export",
      `    upstream: ${upstream}`,
      "    rateLimits: [{ name: export, by: [route], limit: 1, windowSeconds: 3600 }]",
      "",
    ].join("\n"),
  );
  mkdirSync(spoolDir, { recursive: true });
  const db = new pg.Client({ connectionString: o.pgUrl });
  await db.connect();
  const phases: Growth[] = [];
  try {
    for (const [shape, n, make] of [
      ["mix", o.requests, mixRequest],
      ["worst", o.worstRequests, worstRequest],
    ] as const) {
      if (n <= 0) continue;
      // A gateway per phase: its refusal counts start empty, and stopping it flushes them.
      const gateway = procs.start(undefined, process.execPath, [CLI, "gateway", "-c", gatewayFile], {
        ...process.env,
        LOG_LEVEL: "error",
      });
      await waitServing(`http://127.0.0.1:${gatewayPort}/shop/products?id=0`, gateway);
      await settled(db, 1500);
      const before = await snapshot(db);
      o.progress(`audit: ${shape}, ${n.toLocaleString("en")} requests through the gateway`);
      const { statuses, seconds } = await drive(`http://127.0.0.1:${gatewayPort}`, n, make, o.progress);
      // Refusals wait up to eventIntervalSeconds in the gateway, then up to a second in the forwarder:
      // the log is complete once nothing has arrived for longer than both. Stopping the gateway then
      // flushes anything left (its close keeps delivering for 5 s, so it gets longer than that).
      o.progress(`audit: ${shape}, waiting for the gateway's events to reach the log`);
      await settled(db, (EVENT_INTERVAL_S + 3) * 1000);
      await procs.stop(gateway, 20_000);
      await settled(db, 3000);
      const spooled = readdirSync(spoolDir).filter((f) => f !== "rejected").length;
      if (spooled > 0)
        o.progress(`audit: WARNING ${spooled} batch(es) left undelivered in the gateway's spool`);
      const after = await snapshot(db);
      const [anchor, avgBodyBytes] = await anchorBytes(db, before.lastSeq);
      phases.push({
        shape,
        requests: n,
        statuses,
        seconds,
        entries: after.entries - before.entries,
        auditBytes: after.auditBytes - before.auditBytes,
        databaseBytes: after.databaseBytes - before.databaseBytes,
        anchorBytes: anchor,
        avgBodyBytes,
      });
    }
  } finally {
    await db.end().catch(() => {});
    await procs.stop(server);
  }
  return { eventIntervalSeconds: EVENT_INTERVAL_S, clients: CLIENTS, phases };
}

// The sizing bench's Markdown: the sizing table first (what docs/sizing.md quotes), then each
// measurement beside its anchor with the detail behind it.
import type { AuditGrowth, Growth } from "./audit-growth.ts";
import type { SessionSizing } from "./sessions.ts";
import { NGINX, type Target, type Throughput, UPSTREAM, WAF_OFF, WAF_ON } from "./throughput.ts";

export interface SizingResults {
  machine: { node: string; cpu: string; cores: number; memoryBytes: number; busyBefore: number };
  throughput?: Throughput;
  sessions?: SessionSizing;
  audit?: AuditGrowth;
}

const int = (x: number) => Math.round(x).toLocaleString("en");
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const size = (bytes: number) =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(2)} GiB`
    : bytes >= 1024 ** 2
      ? mib(bytes)
      : `${(bytes / 1024).toFixed(1)} KiB`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "—");
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const table = (head: string[], rows: string[][]) => [row(head), row(head.map(() => "---")), ...rows.map(row)];

/** Per million requests, from a phase of `requests`. */
const perMillion = (x: number, g: Growth) => (x * 1_000_000) / g.requests;

export function markdown(r: SizingResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `# Rampart sizing — ${m.node}, ${m.cpu}, ${m.cores} cores, ${(m.memoryBytes / 1024 ** 3).toFixed(0)} GiB`,
    "",
  );
  if (m.busyBefore > 20)
    out.push(
      `WARNING: other processes used ${m.busyBefore}% of the CPUs just before the run; the figures are skewed.`,
      "",
    );
  const t = r.throughput;
  const find = (name: string) => t?.targets.find((x) => x.name === name) as Target;
  const mix = r.audit?.phases.find((p) => p.shape === "mix");
  const worst = r.audit?.phases.find((p) => p.shape === "worst");

  // The sizing table: one line per figure a deployment is sized from.
  const sizing: string[][] = [];
  if (t) {
    const nginx = find(NGINX);
    for (const name of [WAF_ON, WAF_OFF]) {
      const g = find(name);
      sizing.push([
        `req/s per core, ${name === WAF_ON ? "WAF block + Redis rate limit + headers" : "same, WAF off"}`,
        int(g.rps),
        `nginx ${int(nginx.rps)}`,
        ratio(g.rps, nginx.rps),
      ]);
    }
  }
  const s = r.sessions;
  if (s) {
    const per = 10_000 / s.sessions;
    sizing.push(
      [
        "Redis memory per 10,000 sessions",
        mib(s.redis.storeBytes * per),
        `plain SET ${mib(s.redis.anchorBytes * per)}`,
        ratio(s.redis.storeBytes, s.redis.anchorBytes),
      ],
      [
        "gateway heap per 10,000 cached sessions",
        mib(s.heap.cacheBytes * per),
        `raw strings ${mib(s.heap.anchorBytes * per)}`,
        ratio(s.heap.cacheBytes, s.heap.anchorBytes),
      ],
    );
  }
  if (s)
    sizing.push([
      "Redis memory per 10,000 rate-limit keys (client × limit)",
      mib((s.rateLimits.storeBytes * 10_000) / s.rateLimits.keys),
      `plain SET ${mib((s.rateLimits.anchorBytes * 10_000) / s.rateLimits.keys)}`,
      ratio(s.rateLimits.storeBytes, s.rateLimits.anchorBytes),
    ]);
  for (const g of [mix, worst]) {
    if (!g) continue;
    const label = g.shape === "mix" ? "realistic mix" : "worst case, every request refused";
    sizing.push(
      [
        `audit growth per 1M requests, ${label}`,
        size(perMillion(g.auditBytes, g)),
        `jsonb rows ${size(perMillion(g.anchorBytes, g))}`,
        ratio(g.auditBytes, g.anchorBytes),
      ],
      [`audit entries per 1M requests, ${label}`, int(perMillion(g.entries, g)), "—", "—"],
    );
  }
  out.push("## Sizing table", "", ...table(["figure", "Rampart", "anchor", "ratio"], sizing), "");

  if (t) {
    out.push(
      "## Requests per second per core",
      "",
      `${t.pinned ? "Measured process on core 0; upstream nginx, Redis and wrk on core 1" : "UNPINNED (no taskset): every process shares every core"}. ` +
        `wrk -t1 -c${t.connections}, ${t.rounds} round(s) of ${t.seconds} s taking turns, the median round shown; ` +
        "a browser-like GET with a query string, cookies and the usual headers.",
      "",
      ...table(
        ["target", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "req/s at 100% of a core", "RSS after"],
        t.targets.map((x) => [
          x.name,
          int(x.rps),
          x.p50ms.toFixed(2),
          x.p99ms.toFixed(2),
          x.cpuMicros === undefined ? "—" : x.cpuMicros.toFixed(1),
          x.cpuMicros === undefined ? "—" : int(1e6 / x.cpuMicros),
          x.rssBytes === undefined ? "—" : mib(x.rssBytes),
        ]),
      ),
      "",
      `Rampart ÷ nginx: ${ratio(find(WAF_ON).rps, find(NGINX).rps)} with the WAF, ${ratio(find(WAF_OFF).rps, find(NGINX).rps)} without. ` +
        `The upstream alone answered ${int(find(UPSTREAM).rps)} req/s, so it was not the limit.`,
      "",
    );
  }
  if (s) {
    out.push(
      `## Memory per ${int(s.sessions)} sessions`,
      "",
      `Sessions as an OIDC login stores them: identity with claims and groups, tokens of ${s.redis.tokenBytes.access} (access), ` +
        `${s.redis.tokenBytes.refresh} (refresh) and ${s.redis.tokenBytes.id} (ID) bytes; ${int(s.redis.avgRecordBytes)} bytes per stored record; ` +
        `${int(s.redis.keys)} Redis keys (the record, the per-subject and per-provider-session indexes).`,
      "",
      ...table(
        ["where", "Rampart", "per session", "anchor", "per session", "ratio"],
        [
          [
            "Redis used_memory",
            mib(s.redis.storeBytes),
            `${int(s.redis.storeBytes / s.sessions)} B`,
            `plain SET, same sizes and TTL: ${mib(s.redis.anchorBytes)}`,
            `${int(s.redis.anchorBytes / s.sessions)} B`,
            ratio(s.redis.storeBytes, s.redis.anchorBytes),
          ],
          [
            `gateway heap, ${int(s.heap.cached)} cached`,
            mib(s.heap.cacheBytes),
            `${int(s.heap.cacheBytes / s.sessions)} B`,
            `raw records in a Map: ${mib(s.heap.anchorBytes)}`,
            `${int(s.heap.anchorBytes / s.sessions)} B`,
            ratio(s.heap.cacheBytes, s.heap.anchorBytes),
          ],
          [
            `Redis, ${int(s.rateLimits.keys)} rate-limit keys`,
            mib(s.rateLimits.storeBytes),
            `${int(s.rateLimits.storeBytes / s.rateLimits.keys)} B per key`,
            `plain SET, same keys and TTL: ${mib(s.rateLimits.anchorBytes)}`,
            `${int(s.rateLimits.anchorBytes / s.rateLimits.keys)} B per key`,
            ratio(s.rateLimits.storeBytes, s.rateLimits.anchorBytes),
          ],
        ],
      ),
      "",
      "A rate-limit key is one client on one limit; it lives until the client's full allowance is back (at most the window), so the live count is the clients active within a window.",
      "",
    );
  }
  if (r.audit) {
    const a = r.audit;
    out.push(
      "## Audit growth",
      "",
      `Gateway → rampart server → PostgreSQL; refusals are sent as one event per (decision, route, client) every ${a.eventIntervalSeconds} s. ` +
        `Realistic mix: 95% allowed, 3% rate-limited, 1% WAF-blocked, 1% refused by an IP rule, from ${int(a.clients)} client addresses. ` +
        "Worst case: every request refused, each from an address of its own. Sizes after VACUUM and CHECKPOINT; figures scaled to 1M requests from the requests sent.",
      "",
      ...table(
        [
          "traffic",
          "requests",
          "req/s",
          "statuses",
          "entries",
          "audit tables",
          "whole database",
          "jsonb anchor",
          "avg body",
          "per 1M requests",
        ],
        a.phases.map((g) => [
          g.shape === "mix" ? "realistic mix" : "worst case",
          int(g.requests),
          int(g.requests / g.seconds),
          Object.entries(g.statuses)
            .map(([k, v]) => `${k}: ${int(v)}`)
            .join(", "),
          int(g.entries),
          size(g.auditBytes),
          size(g.databaseBytes),
          size(g.anchorBytes),
          `${int(g.avgBodyBytes)} B`,
          `${size(perMillion(g.auditBytes, g))}, ${int(perMillion(g.entries, g))} entries`,
        ]),
      ),
      "",
    );
  }
  out.push(`SUMMARY: ${sizing.length} sizing figures measured`);
  return `${out.join("\n")}\n`;
}

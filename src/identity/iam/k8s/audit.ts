// Kubernetes API-server audit logs (audit.k8s.io/v1, v1beta1: one JSON event per line, plain or
// .gz) read as streams and folded into per-principal usage: one entry per distinct request, so
// memory grows with what a principal did, not with how often it did it.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { Invalid } from "../../../platform/errors.ts";
import type { RbacRequest } from "./rbac.ts";

/** One distinct request of a principal, with how often and when it was seen and how it ended. */
export interface ObservedRequest {
  request: RbacRequest;
  count: number;
  /** Requests the API server allowed (any status but 403). */
  allowed: number;
  /** Requests refused with 403: audit2rbac counts them as intended use. */
  denied: number;
  first: string;
  last: string;
}

/** What one principal (the impersonated user when impersonation was used) did. */
export interface PrincipalUsage {
  user: string;
  /** Groups seen on the principal's events (union). */
  groups: string[];
  requests: Map<string, ObservedRequest>;
  first: string;
  last: string;
}

/** Usage of every principal, plus lines that could not be read. */
export interface AuditUsage {
  principals: Map<string, PrincipalUsage>;
  events: number;
  skipped: number;
  malformed: { where: string; reason: string }[];
}

/** An audit event's fields this analysis reads. */
interface AuditEvent {
  kind?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  timestamp?: string;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  user?: { username?: string; groups?: string[] };
  impersonatedUser?: { username?: string; groups?: string[] };
  objectRef?: {
    apiGroup?: string;
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number };
}

/** Empty usage to fold events into. */
export function emptyUsage(): AuditUsage {
  return { principals: new Map(), events: 0, skipped: 0, malformed: [] };
}

/** The key of a distinct request (user excluded: usage is already per principal). */
export function requestKey(r: RbacRequest): string {
  return r.resourceRequest
    ? `R\u0000${r.verb}\u0000${r.apiGroup}\u0000${r.resource}\u0000${r.subresource}\u0000${r.namespace}\u0000${r.name}`
    : `N\u0000${r.verb}\u0000${r.path}`;
}

/**
 * The principal and request of an audit event; undefined for events that say nothing about
 * authorization (early stages of a request, 401s, events without a user or verb).
 */
export function eventToRequest(
  e: AuditEvent,
): { request: RbacRequest; code: number; time: string } | undefined {
  // RequestReceived and ResponseStarted repeat a request that ResponseComplete (or Panic) closes.
  if (e.stage === "RequestReceived" || e.stage === "ResponseStarted") return undefined;
  const who = e.impersonatedUser?.username ? e.impersonatedUser : e.user;
  const user = who?.username;
  if (!user || !e.verb) return undefined;
  const code = e.responseStatus?.code ?? 200;
  // 401: authentication failed, the request never reached the authorizer.
  if (code === 401) return undefined;
  const time = e.stageTimestamp ?? e.requestReceivedTimestamp ?? e.timestamp ?? "";
  const o = e.objectRef;
  const base = { user, groups: who?.groups ?? [], verb: e.verb };
  if (o?.resource) {
    return {
      code,
      time,
      request: {
        ...base,
        resourceRequest: true,
        apiGroup: o.apiGroup ?? "",
        resource: o.resource,
        subresource: o.subresource ?? "",
        namespace: o.namespace ?? "",
        name: o.name ?? "",
        path: "",
      },
    };
  }
  const uri = e.requestURI ?? "";
  const q = uri.indexOf("?");
  return {
    code,
    time,
    request: {
      ...base,
      resourceRequest: false,
      apiGroup: "",
      resource: "",
      subresource: "",
      namespace: "",
      name: "",
      path: q >= 0 ? uri.slice(0, q) : uri,
    },
  };
}

/** Folds one request into the usage. */
export function addObservation(usage: AuditUsage, request: RbacRequest, code: number, time: string): void {
  usage.events++;
  let p = usage.principals.get(request.user);
  if (!p) {
    p = { user: request.user, groups: [], requests: new Map(), first: time, last: time };
    usage.principals.set(request.user, p);
  }
  for (const g of request.groups) if (!p.groups.includes(g)) p.groups.push(g);
  if (time && (!p.first || time < p.first)) p.first = time;
  if (time > p.last) p.last = time;
  const key = requestKey(request);
  let o = p.requests.get(key);
  if (!o) {
    // The stored request carries no groups: they live once on the principal.
    o = { request: { ...request, groups: [] }, count: 0, allowed: 0, denied: 0, first: time, last: time };
    p.requests.set(key, o);
  }
  o.count++;
  if (code === 403) o.denied++;
  else o.allowed++;
  if (time && (!o.first || time < o.first)) o.first = time;
  if (time > o.last) o.last = time;
}

/** Options for reading audit logs. */
export interface ReadAuditOptions {
  /** Keep only this principal's events (username, or system:serviceaccount:NS:NAME). */
  user?: string;
  /** Called every 10,000 lines with the number of lines read so far. */
  onProgress?: (lines: number) => void;
}

/** Reads one audit log stream line by line into `usage`. */
export async function readAuditStream(
  input: Readable,
  where: string,
  usage: AuditUsage,
  opts: ReadAuditOptions = {},
): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (opts.onProgress && n % 10_000 === 0) opts.onProgress(n);
    const text = line.trim();
    if (!text) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(text) as AuditEvent;
    } catch {
      if (usage.malformed.length < 100) usage.malformed.push({ where: `${where}:${n}`, reason: "not JSON" });
      continue;
    }
    if (!e || typeof e !== "object" || (e.kind !== undefined && e.kind !== "Event")) {
      usage.skipped++;
      continue;
    }
    const r = eventToRequest(e);
    if (!r || (opts.user !== undefined && r.request.user !== opts.user)) {
      usage.skipped++;
      continue;
    }
    addObservation(usage, r.request, r.code, r.time);
  }
}

async function auditFiles(path: string): Promise<string[]> {
  const s = await stat(path).catch(() => undefined);
  if (!s) throw new Invalid("no such file or directory", path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const e of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (e.name.startsWith(".")) continue;
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...(await auditFiles(p)));
    else if (/\.(log|json|jsonl|ndjson)(\.gz)?$/i.test(e.name)) out.push(p);
  }
  return out;
}

/** Reads audit log files and directories (.gz through zlib), streamed, into per-principal usage. */
export async function readAuditLogs(
  paths: readonly string[],
  opts: ReadAuditOptions = {},
): Promise<AuditUsage> {
  const usage = emptyUsage();
  for (const p of paths) {
    for (const f of await auditFiles(p)) {
      const raw = createReadStream(f);
      const input = f.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
      const failed = new Promise<never>((_, reject) => {
        const fail = (err: Error) => reject(new Invalid(err.message, f));
        raw.on("error", fail);
        input.on("error", fail);
      });
      // A late error after the file was read must not surface as an unhandled rejection.
      failed.catch(() => undefined);
      await Promise.race([readAuditStream(input, f, usage, opts), failed]);
      raw.destroy();
    }
  }
  return usage;
}

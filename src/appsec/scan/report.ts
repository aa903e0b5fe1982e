// Sends a scan's result to the control plane as evidence (`rampart scan … --report-to URL`).
// Errors say what went wrong in words a CI log reader can act on, and never hold the token.
import type { ScanRecordOutcome } from "./evidence.ts";
import type { ScanResult } from "./types.ts";

export interface ReportTarget {
  /** The control plane's base URL (`https://rampart.example.com`, a path prefix allowed). */
  url: string;
  /** An API token allowed `scans:write`. */
  token: string;
  /** Who ran the scan: the CI project or repository name. */
  source: string;
  /** Attempts for 429/502/503/504 and network errors (default 3). */
  attempts?: number;
  /** Per-attempt timeout (default 30 s). */
  timeoutMs?: number;
  /** Longest Retry-After honoured (default 10 s): a CI job should not hang on a busy server. */
  maxRetryAfterMs?: number;
}

/** What the control plane answers: the run, counts, and each finding's first sighting. */
export type ScanReportResponse = ScanRecordOutcome;

/** Thrown when the result could not be recorded; `status` is the HTTP status when there was one. */
export class ReportError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "ReportError";
    this.status = status;
  }
}

const RETRY = new Set([429, 502, 503, 504]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds or an HTTP date, as Retry-After may say; undefined when absent or unreadable. */
function retryAfterMs(h: string | null): number | undefined {
  if (!h) return undefined;
  if (/^\d+$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/** The URL scans are posted to under `base`. */
export function scansUrl(base: string): string {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new ReportError(`--report-to expects the control plane's http(s) URL; got '${base}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new ReportError(`--report-to expects an http(s) URL; got '${u.protocol}'`);
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/api/v1/scans`;
  u.search = "";
  u.hash = "";
  return u.toString();
}

async function messageOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof m === "string") return m;
  } catch {
    // not JSON: a proxy's error page; its first line is enough
  }
  return text.split("\n")[0]?.slice(0, 200) ?? "";
}

/** Posts `result` to the control plane and returns what it recorded. */
export async function reportResult(result: ScanResult, t: ReportTarget): Promise<ScanReportResponse> {
  const url = scansUrl(t.url);
  const shown = new URL(url).origin;
  const attempts = Math.max(1, t.attempts ?? 3);
  const body = JSON.stringify({ source: t.source, result });
  let last: ReportError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${t.token}`, "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(t.timeoutMs ?? 30_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === "TimeoutError" ? "no answer in time" : (e.cause?.code ?? e.cause?.message ?? e.message);
      last = new ReportError(`cannot reach the control plane at ${shown}: ${why}`);
      if (attempt < attempts) await sleep(500 * attempt);
      continue;
    }
    if (res.ok) return (await res.json()) as ScanReportResponse;
    const message = await messageOf(res);
    if (res.status === 401)
      throw new ReportError(`the control plane refused the token (401): check --token or RAMPART_TOKEN`, 401);
    if (res.status === 403)
      throw new ReportError(`the token may not record scans (403): it needs the scans:write permission`, 403);
    if (res.status === 400)
      throw new ReportError(`the control plane rejected the result (400): ${message}`, 400);
    last = new ReportError(
      `the control plane answered ${res.status}${message ? `: ${message}` : ""}`,
      res.status,
    );
    if (!RETRY.has(res.status) || attempt === attempts) break;
    const wait = retryAfterMs(res.headers.get("retry-after")) ?? 500 * attempt;
    const max = t.maxRetryAfterMs ?? 10_000;
    if (wait > max) {
      last = new ReportError(
        `the control plane is busy (${res.status}) and asks to retry in ${Math.ceil(wait / 1000)} s; giving up`,
        res.status,
      );
      break;
    }
    await sleep(wait);
  }
  throw last ?? new ReportError("the result was not recorded");
}

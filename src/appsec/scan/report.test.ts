// Reporting a result to the control plane over real HTTP on localhost: what is sent, how refusals
// read in a CI log, retries on 429/503 with Retry-After, and a control plane that is not there.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { ReportError, reportResult, scansUrl } from "./report.ts";
import type { ScanResult } from "./types.ts";

const result: ScanResult = {
  kind: "k8s",
  target: "deploy/",
  startedAt: "2026-11-23T10:00:00.000Z",
  finishedAt: "2026-11-23T10:00:01.000Z",
  findings: [],
  stats: { manifests: 3 },
};
const TOKEN = "rpt_secret-token-value-0123456789";
const recorded = { run: { id: "run-1" }, new: 0, fixed: 0, reopened: 0, open: 0, items: [] };

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A receiver answering each request with the next reply (the last repeats). */
async function receiver(replies: ((res: ServerResponse) => void)[]): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req: IncomingMessage, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        auth: req.headers.authorization,
        body: JSON.parse(data),
      });
      (replies[Math.min(seen.length - 1, replies.length - 1)] as (res: ServerResponse) => void)(res);
    });
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}`, seen };
}
const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  (res: ServerResponse) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };

describe("reportResult", () => {
  test("posts { source, result } with the bearer token to /api/v1/scans under the base URL", async () => {
    const r = await receiver([json(201, recorded)]);
    const out = await reportResult(result, { url: `${r.url}/rampart/`, token: TOKEN, source: "shop/web" });
    expect(out).toEqual(recorded);
    expect(r.seen).toEqual([
      {
        method: "POST",
        url: "/rampart/api/v1/scans",
        auth: `Bearer ${TOKEN}`,
        body: { source: "shop/web", result },
      },
    ]);
  });

  test("a refused token, a missing permission and a rejected body say so, without retrying or the token", async () => {
    for (const [status, text] of [
      [401, "the control plane refused the token"],
      [403, "needs the scans:write permission"],
      [400, "rejected the result (400): result.findings[0].fingerprint: expected a hex fingerprint"],
    ] as const) {
      const r = await receiver([
        json(status, { error: "x", message: "result.findings[0].fingerprint: expected a hex fingerprint" }),
      ]);
      const err = (await reportResult(result, { url: r.url, token: TOKEN, source: "s" }).catch(
        (e: unknown) => e,
      )) as ReportError;
      expect(err).toBeInstanceOf(ReportError);
      expect(err.message).toContain(text);
      expect(err.status).toBe(status);
      expect(err.message).not.toContain(TOKEN);
      expect(r.seen).toHaveLength(1);
      await new Promise((res) => server?.close(res));
    }
  });

  test("429 with Retry-After, then 503: retried, and recorded on the third attempt", async () => {
    const r = await receiver([
      json(429, { message: "slow down" }, { "retry-after": "1" }),
      json(503, { message: "database unavailable" }, { "retry-after": "0" }),
      json(201, recorded),
    ]);
    const t0 = Date.now();
    expect(await reportResult(result, { url: r.url, token: TOKEN, source: "s" })).toEqual(recorded);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(r.seen).toHaveLength(3);
  });

  test("a 5xx that persists fails after the attempts with the server's message", async () => {
    const r = await receiver([json(500, { error: "internal", message: "internal error" })]);
    await expect(reportResult(result, { url: r.url, token: TOKEN, source: "s" })).rejects.toThrow(
      "the control plane answered 500: internal error",
    );
    expect(r.seen).toHaveLength(1);
  });

  test("a Retry-After longer than a CI job should wait gives up at once", async () => {
    const r = await receiver([json(503, {}, { "retry-after": "3600" })]);
    await expect(reportResult(result, { url: r.url, token: TOKEN, source: "s" })).rejects.toThrow(
      "asks to retry in 3600 s; giving up",
    );
    expect(r.seen).toHaveLength(1);
  });

  test("a control plane that is not there: a clear error after the retries", async () => {
    const r = await receiver([json(201, recorded)]);
    await new Promise((res) => server?.close(res));
    server = undefined;
    await expect(
      reportResult(result, { url: r.url, token: TOKEN, source: "s", attempts: 2 }),
    ).rejects.toThrow(`cannot reach the control plane at ${r.url}: ECONNREFUSED`);
  });

  test("the URL must be http(s)", () => {
    expect(() => scansUrl("ftp://example.com")).toThrow("expects an http(s) URL");
    expect(() => scansUrl("not a url")).toThrow("expects the control plane's http(s) URL");
    expect(scansUrl("https://rampart.example.com")).toBe("https://rampart.example.com/api/v1/scans");
  });
});

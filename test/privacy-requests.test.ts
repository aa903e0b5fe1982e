// The data-subject-request routes over real HTTP: a small Fastify app with the routes, the service
// over PostgreSQL, mail through a real SMTP server, app tokens from a JWKS served over HTTP, and
// the CLI against it. The DSR engine is a recording fake (it has its own tests).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Command } from "commander";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from "fastify";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { registerPrivacyRequestCommands } from "../src/cli/privacy-requests.ts";
import { createSmtpMailer } from "../src/data/privacy/mail.ts";
import {
  createPrivacyRequests,
  type PrivacyRequestsConfig,
  privacyRequestsConfigSchema,
  requestMigrations,
} from "../src/data/privacy/requests/index.ts";
import { codeIn, type RecordingEngine, recordingEngine } from "../src/data/privacy/requests/testing.ts";
import { manualClock } from "../src/platform/clock.ts";
import { Forbidden, RampartError, Unauthorized } from "../src/platform/errors.ts";
import type { SecurityEvent } from "../src/platform/events/index.ts";
import type { Caller } from "../src/server/callers.ts";
import { PAGE_CSP } from "../src/server/privacy-request-page.ts";
import { registerPrivacyRequestRoutes } from "../src/server/privacy-request-routes.ts";
import { parseBody } from "./support/privacy-routes.ts";
import { type SmtpSink, startSmtpSink } from "./support/sinks.ts";
import { openTestStore, type TestStore } from "./support/stores.ts";

const TOKENS: Record<string, { id: string; may: (action: string) => boolean }> = {
  "officer-token": { id: "corp:dpo", may: (a) => a.startsWith("privacy:") },
  // Like the built-in operator: every :read action, and nothing else.
  "operator-token": { id: "corp:ops", may: (a) => a.endsWith(":read") },
};

async function authorize(req: FastifyRequest, action: string): Promise<Caller> {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  const who = token ? TOKENS[token] : undefined;
  if (!who) throw new Unauthorized();
  if (!who.may(action)) throw new Forbidden(`missing permission ${action}`);
  return {
    identity: { kind: "user", subject: who.id } as Caller["identity"],
    actor: { kind: "user", id: who.id },
  };
}

let ts: TestStore;
let smtp: SmtpSink;
let jwks: Server;
let app: FastifyInstance;
let base: string;
let engine: RecordingEngine;
let config: PrivacyRequestsConfig;
const events: SecurityEvent[] = [];
const clock = manualClock("2026-06-01T09:00:00Z");
let sign: (claims: Record<string, unknown>) => Promise<string>;
let startApp: (cfg: () => PrivacyRequestsConfig) => Promise<{ app: FastifyInstance; base: string }>;

beforeAll(async () => {
  ts = await openTestStore("postgres", requestMigrations);
  smtp = await startSmtpSink();
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  jwks = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })),
  );
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", () => r()));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  sign = (claims) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer("https://app.example")
      .setAudience("privacy")
      .setIssuedAt(clock.now())
      .setExpirationTime(new Date(clock.now().getTime() + 300_000))
      .sign(privateKey);
  config = privacyRequestsConfigSchema.parse({
    organisation: "Example Ltd",
    rateLimit: { burst: 1000, perMinute: 1000, verifyBurst: 1000, verifyPerMinute: 1000 },
    appTokens: [{ name: "app", issuer: "https://app.example", audience: "privacy", jwksUrl }],
  });
  engine = recordingEngine();
  const requests = createPrivacyRequests({
    store: ts.store,
    clock,
    emit: (e) => events.push(e),
    engine,
    mailer: createSmtpMailer({ url: `smtp://127.0.0.1:${smtp.port}`, from: "privacy@example.com" }),
    config: () => config,
  });
  startApp = async (cfg) => {
    const a = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
    a.setErrorHandler((err: FastifyError | RampartError, _req, reply) => {
      if (err instanceof RampartError)
        return reply.status(err.status).send({ error: err.code, message: err.message });
      const status = (err as FastifyError).statusCode ?? 500;
      return reply
        .status(status)
        .send({ error: status < 500 ? "bad_request" : "internal", message: err.message });
    });
    registerPrivacyRequestRoutes(a, { requests, config: cfg }, { authorize, parseBody });
    await a.listen({ port: 0, host: "127.0.0.1" });
    return { app: a, base: `http://127.0.0.1:${(a.server.address() as AddressInfo).port}` };
  };
  ({ app, base } = await startApp(() => config));
});

afterAll(async () => {
  await app?.close();
  await smtp?.close();
  await new Promise<void>((r) => (jwks ? jwks.close(() => r()) : r()));
  await ts?.cleanup();
});

type Json = Record<string, unknown> & { message?: string };
async function call(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers, text };
}

const codeFor = async (email: string) => {
  await vi.waitFor(() => expect(smtp.received.some((m) => m.to.includes(email))).toBe(true));
  const mail = smtp.received
    .filter((m) => m.to.includes(email) && (m.parsed.subject ?? "").includes("code"))
    .at(-1);
  return codeIn(mail?.parsed.text ?? "");
};

describe("public intake", () => {
  it("answers the same for anyone, mails a code over SMTP, and verifies with it", async () => {
    const r = await call("POST", "/privacy/requests", { kind: "access", email: "ana@example.com" });
    expect(r.status).toBe(202);
    expect(Object.keys(r.json).sort()).toEqual(["dueAt", "id", "kind", "next", "state", "statusToken"]);
    expect(r.json).toMatchObject({ kind: "access", state: "verifying", next: "enter_code" });
    const mail = smtp.received.find((m) => m.to.includes("ana@example.com"));
    expect(mail?.from).toBe("privacy@example.com");
    expect(mail?.parsed.html).toContain("<p>");
    const code = await codeFor("ana@example.com");
    const v = await call("POST", `/privacy/requests/${String(r.json.id)}/verify`, { code });
    expect(v.status).toBe(200);
    expect(v.json.state).toBe("verified");
    await vi.waitFor(() => expect(engine.runs.map((x) => x.id)).toContain(r.json.id));
    const s = await call(
      "GET",
      `/privacy/requests/${String(r.json.id)}/status?token=${String(r.json.statusToken)}`,
    );
    expect(s.status).toBe(200);
    expect(JSON.stringify(s.json)).not.toContain("ana@");
  });

  it("locks after five wrong codes and refuses a status token that does not match", async () => {
    const r = await call("POST", "/privacy/requests", { kind: "erasure", email: "bo@example.com" });
    const id = String(r.json.id);
    const code = await codeFor("bo@example.com");
    const wrong = code === "123456" ? "654321" : "123456";
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push((await call("POST", `/privacy/requests/${id}/verify`, { code: wrong })).status);
    expect(answers).toEqual([400, 400, 400, 400, 400]);
    const locked = await call("POST", `/privacy/requests/${id}/verify`, { code });
    expect(locked.status).toBe(409);
    expect(locked.json.message).toMatch(/locked/);

    const forged = await call("GET", `/privacy/requests/${id}/status?token=${"A".repeat(43)}`);
    expect(forged.status).toBe(404);
    const unknown = await call(
      "GET",
      `/privacy/requests/dsr_aaaaaaaaaaaaaaaaaaaaaaaa/status?token=${String(r.json.statusToken)}`,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.json.message).toBe(forged.json.message);
    expect((await call("GET", `/privacy/requests/${id}/status`)).status).toBe(400);
  });

  it("refuses hostile input: oversized, unknown fields, bad kinds, bad ids", async () => {
    const big = await call("POST", "/privacy/requests", {
      kind: "access",
      email: "c@example.com",
      details: "x".repeat(20_000),
    });
    expect(big.status).toBe(413);
    const extra = await call("POST", "/privacy/requests", {
      kind: "access",
      email: "c@example.com",
      admin: true,
    });
    expect(extra.status).toBe(400);
    expect(
      (await call("POST", "/privacy/requests", { kind: "delete_everything", email: "c@example.com" })).status,
    ).toBe(400);
    expect((await call("POST", "/privacy/requests", { kind: "access", email: "not-an-email" })).status).toBe(
      400,
    );
    expect((await call("POST", "/privacy/requests", "{not json")).status).toBe(400);
    expect((await call("POST", "/privacy/requests/../../etc/verify", { code: "123456" })).status).toBe(404);
    expect((await call("POST", "/privacy/requests/dsr_x'or'1/verify", { code: "123456" })).status).toBe(400);
    expect(
      (await call("POST", "/privacy/requests/dsr_aaaaaaaaaaaaaaaaaaaaaaaa/verify", { code: "12" })).status,
    ).toBe(400);
  });

  it("rate-limits intake per IP with Retry-After", async () => {
    const strict = { ...config, rateLimit: { ...config.rateLimit, burst: 2, perMinute: 0.5 } };
    const own = await startApp(() => strict);
    try {
      const statuses = [];
      let last: Response | undefined;
      for (let i = 0; i < 3; i++) {
        last = await fetch(`${own.base}/privacy/requests`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ kind: "access", email: `rl${i}@example.com` }),
        });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([202, 202, 429]);
      expect(Number(last?.headers.get("retry-after"))).toBeGreaterThanOrEqual(100);
    } finally {
      await own.app.close();
    }
  });

  it("takes a token signed by the calling app (keys from its JWKS URL) as verification", async () => {
    const good = await call("POST", "/privacy/requests", {
      kind: "portability",
      appToken: await sign({ email: "dee@example.com", sub: "u1" }),
    });
    expect(good.status).toBe(202);
    expect(good.json.state).toBe("verified");
    const bad = await call("POST", "/privacy/requests", {
      kind: "access",
      appToken: (await sign({ email: "dee@example.com" })).replace(/.{4}$/, "AAAA"),
    });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/appToken: .*refused/);
  });
});

describe("public page", () => {
  it("serves a form without script under a strict CSP, and works by form posts alone", async () => {
    const page = await fetch(`${base}/privacy/request`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(PAGE_CSP);
    expect(PAGE_CSP).toMatch(/default-src 'none'/);
    expect(PAGE_CSP).not.toMatch(/unsafe-inline|script-src/);
    const html = await page.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('action="/privacy/request"');

    const form = (fields: Record<string, string>, path: string) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
    const bad = await form({ kind: "access", email: "<script>x" }, "/privacy/request");
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain("&lt;script&gt;x");
    expect(badHtml).not.toContain("<script>x");

    const sent = await form({ kind: "access", email: "eve@example.com", details: "" }, "/privacy/request");
    expect(sent.status).toBe(202);
    const body = await sent.text();
    const id = /name="id" value="(dsr_\w+)"/.exec(body)?.[1] as string;
    const token = /name="token" value="([\w-]+)"/.exec(body)?.[1] as string;
    expect(id).toBeDefined();
    const wrong = await form(
      { id, token, code: "000000" === (await codeFor("eve@example.com")) ? "111111" : "000000" },
      "/privacy/request/verify",
    );
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain("attempt(s) left");
    const ok = await form({ id, token, code: await codeFor("eve@example.com") }, "/privacy/request/verify");
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("Confirmed");
    const forged = await form({ id, token: "B".repeat(43), code: "123456" }, "/privacy/request/verify");
    expect(forged.status).toBe(404);
  });
});

describe("admin API and CLI", () => {
  let erasure: string;

  beforeAll(async () => {
    const r = await call("POST", "/privacy/requests", { kind: "erasure", email: "fay@example.com" });
    erasure = String(r.json.id);
    await call("POST", `/privacy/requests/${erasure}/verify`, { code: await codeFor("fay@example.com") });
  });

  it("guards every admin route and masks addresses in the list", async () => {
    expect((await call("GET", "/api/v1/privacy/requests")).status).toBe(401);
    const list = await call(
      "GET",
      "/api/v1/privacy/requests?state=verified&kind=erasure",
      undefined,
      "operator-token",
    );
    expect(list.status).toBe(200);
    const mine = (list.json.requests as Array<{ id: string; email: string }>).find((x) => x.id === erasure);
    expect(mine?.email).toBe("f•••@example.com");
    expect(
      (await call("POST", `/api/v1/privacy/requests/${erasure}/approve`, {}, "operator-token")).status,
    ).toBe(403);
    expect(
      (await call("GET", `/api/v1/privacy/requests/${erasure}/export`, undefined, "operator-token")).status,
    ).toBe(403);
    expect(
      (await call("GET", "/api/v1/privacy/requests?state=bogus", undefined, "officer-token")).status,
    ).toBe(400);
  });

  it("approves, extends and rejects through the CLI with --json", async () => {
    const out: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((s: string) => void out.push(s));
    const cli = async (...args: string[]) => {
      const program = new Command().exitOverride();
      registerPrivacyRequestCommands(program.command("privacy"));
      out.length = 0;
      await program.parseAsync([
        "node",
        "rampart",
        "privacy",
        "requests",
        ...args,
        "--server",
        base,
        "--token",
        "officer-token",
      ]);
      return out.join("\n");
    };
    try {
      const listed = JSON.parse(await cli("list", "--state", "verified", "--json")) as Array<{ id: string }>;
      expect(listed.map((x) => x.id)).toContain(erasure);
      expect(await cli("show", erasure)).toMatch(/erasure\s+verified[\s\S]*waiting for approval/);
      const recorded = JSON.parse(
        await cli(
          "record",
          "--kind",
          "access",
          "--email",
          "ivy@example.com",
          "--identity-check",
          "called back on the number on file",
          "--json",
        ),
      ) as { state: string; verification: string };
      expect(recorded).toMatchObject({ state: "verified", verification: "operator" });
      expect(
        (
          await call(
            "POST",
            "/api/v1/privacy/requests",
            { request: { kind: "access", email: "x@example.com" }, identityCheck: "seen" },
            "operator-token",
          )
        ).status,
      ).toBe(403);
      const extended = JSON.parse(
        await cli("extend", erasure, "--reason", "backups to search", "--json"),
      ) as { dueAt: string };
      expect(extended.dueAt.slice(0, 10)).toBe("2026-09-01");
      await expect(cli("extend", erasure, "--reason", "again")).rejects.toThrow(/409 .*already extended/);
      expect(await cli("approve", erasure, "--note", "ok")).toMatch(/approved dsr_/);
      await vi.waitFor(() =>
        expect(engine.runs.some((x) => x.id === erasure && x.kind === "erasure")).toBe(true),
      );

      const obj = await call("POST", "/privacy/requests", {
        kind: "objection",
        email: "gus@example.com",
        details: "no profiling",
      });
      await call("POST", `/privacy/requests/${String(obj.json.id)}/verify`, {
        code: await codeFor("gus@example.com"),
      });
      expect(await cli("reject", String(obj.json.id), "--reason", "no account")).toMatch(/rejected/);
      await vi.waitFor(() =>
        expect(
          smtp.received.some(
            (m) => m.to.includes("gus@example.com") && (m.parsed.text ?? "").includes("no account"),
          ),
        ).toBe(true),
      );
    } finally {
      log.mockRestore();
    }
  });

  it("downloads the export of a completed access request with privacy:export only", async () => {
    const r = await call("POST", "/privacy/requests", {
      kind: "access",
      appToken: await sign({ email: "hal@example.com" }),
    });
    const id = String(r.json.id);
    await vi.waitFor(async () =>
      expect(
        (await call("GET", `/api/v1/privacy/requests/${id}`, undefined, "officer-token")).json.state,
      ).toBe("completed"),
    );
    const csv = await fetch(`${base}/api/v1/privacy/requests/${id}/export?format=csv`, {
      headers: { authorization: "Bearer officer-token" },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-disposition")).toContain(`${id}.csv`);
    expect(await csv.text()).toContain("shop.customers");
    // No event carries an address.
    expect(JSON.stringify(events)).not.toMatch(/@example\.com/);
  });
});

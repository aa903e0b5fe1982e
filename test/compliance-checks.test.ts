// The built-in compliance checks on real evidence: a PostgreSQL database migrated with the
// server's migrations, rows written by the modules' own services (secrets store, scan evidence,
// privacy requests, breaches and register, incidents), configs parsed by the real schema, and real
// TLS listeners for the probe. Each check is shown passing and failing as a user would see it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { inject } from "vitest";
import { openSecrets, type Secrets, secretsConfigSchema } from "../src/appsec/secrets/index.ts";
import { createScanEvidence } from "../src/appsec/scan/evidence.ts";
import type { Finding, ScanResult } from "../src/appsec/scan/types.ts";
import { type RampartConfig, rampartConfigSchema } from "../src/config/index.ts";
import { breachConfigSchema, createBreachRegister } from "../src/data/privacy/breach/index.ts";
import { createPrivacyRegister } from "../src/data/privacy/register/index.ts";
import { privacyRequestsConfigSchema } from "../src/data/privacy/requests/config.ts";
import { createPrivacyRequests } from "../src/data/privacy/requests/index.ts";
import { recordingEngine, recordingMailer } from "../src/data/privacy/requests/testing.ts";
import { builtinChecks, probeTls } from "../src/monitoring/compliance/checks/index.ts";
import type { CheckContext, CheckItem } from "../src/monitoring/compliance/model.ts";
import { createIncidents } from "../src/monitoring/incidents/index.ts";
import { manualClock } from "../src/platform/clock.ts";
import { openStore, type Store } from "../src/platform/store/index.ts";
import type { Privacy } from "../src/server/privacy.ts";
import { migrations } from "../src/server/runtime.ts";
import { issueCertificate } from "./support/certificates.ts";
import { freshDatabase } from "./support/pg.ts";
import { callerOf } from "./support/secrets.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOW = new Date("2026-06-01T12:00:00Z");
const by = { kind: "user", id: "corp:officer" };

const check = (id: string) => {
  const c = builtinChecks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return c;
};
const byResource = (items: CheckItem[]) => Object.fromEntries(items.map((i) => [i.resource, i]));
const config = (raw: Record<string, unknown>): RampartConfig =>
  rampartConfigSchema.parse({ version: 1, ...raw });

describe("built-in compliance checks on live evidence", () => {
  let store: Store;
  let drop: () => Promise<void>;
  let dir: string;
  let cert: { certFile: string; keyFile: string };
  const servers: Server[] = [];

  const ctx = (c: RampartConfig, extra: Partial<CheckContext> = {}, now = NOW) =>
    ({ now, config: c, db: store.db, ...extra }) as CheckContext;
  const run = async (id: string, c: RampartConfig = config({}), extra = {}, now = NOW) =>
    byResource(await check(id).run(ctx(c, extra, now)));

  async function tlsListener(minVersion: "TLSv1" | "TLSv1.2"): Promise<number> {
    const server = createServer(
      {
        cert: readFileSync(cert.certFile),
        key: readFileSync(cert.keyFile),
        minVersion,
        // Lets the server itself agree to TLS 1.0/1.1 when its minVersion allows them.
        ciphers: "DEFAULT@SECLEVEL=0",
      },
      (socket) => socket.end(),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as { port: number }).port;
  }

  beforeAll(async () => {
    const db = await freshDatabase(inject("pgUrl"));
    drop = db.drop;
    dir = mkdtempSync(join(tmpdir(), "rampart-compliance-checks-"));
    store = await openStore({ url: db.url, dataDir: dir, migrations });
    cert = issueCertificate(dir, "gateway", {
      cn: "shop.example.com",
      san: ["DNS:shop.example.com"],
      leaf: true,
    });
  });

  afterAll(async () => {
    for (const s of servers) s.close();
    await store?.close();
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  test("every check has a unique id, a remediation and sane SLA defaults", () => {
    const ids = builtinChecks.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(
      expect.arrayContaining([
        "gateway.tls-configured",
        "gateway.tls-min-version",
        "gateway.waf-blocking",
        "gateway.rate-limits",
        "gateway.geo-policy",
        "gateway.security-headers",
        "identity.sso-internal-routes",
        "identity.no-standing-prod-access",
        "identity.mfa-required",
        "secrets.rotation-age",
        "secrets.encrypted-at-rest",
        "secrets.no-plaintext-config",
        "secrets.kek-rotation",
        "gates.trivy-critical-sla",
        "gates.k8s-posture",
        "gates.iac-posture",
        "gates.secrets-in-code",
        "audit.retention",
        "audit.verification",
        "privacy.dsr-deadlines",
        "privacy.breach-clocks",
        "privacy.register",
        "incidents.mttr",
      ]),
    );
    for (const c of builtinChecks) {
      expect(c.remediation.length).toBeGreaterThan(20);
      expect(c.toleranceDays).toBeLessThanOrEqual(c.slaDays);
    }
  });

  describe("gateway", () => {
    const tls = (port: number, over: Record<string, unknown> = {}) => ({
      host: "127.0.0.1",
      tls: { port, certificates: [{ hosts: ["shop.example.com"], ...cert }], ...over },
    });

    test("probeTls tells a listener that accepts TLS 1.0 from one that refuses it", async () => {
      const legacy = await probeTls("127.0.0.1", await tlsListener("TLSv1"), "shop.example.com");
      expect(legacy).toEqual({ legacyRefused: false, modern: "TLSv1.3" });
      const modern = await probeTls("127.0.0.1", await tlsListener("TLSv1.2"));
      expect(modern).toEqual({ legacyRefused: true, modern: "TLSv1.3" });
      // Nothing listening: both handshakes fail, so modern is an error.
      const closed = await tlsListener("TLSv1.2");
      const server = servers.pop() as Server;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const none = await probeTls("127.0.0.1", closed);
      expect(none.legacyRefused).toBe(true);
      expect(none.modern).toEqual({ error: "ECONNREFUSED" });
    });

    test("tls-configured: TLS with redirect passes; none, or no redirect, fails", async () => {
      expect(
        (await run("gateway.tls-configured", config({ gateway: tls(7643) })))["gateway:listener"],
      ).toMatchObject({ status: "pass" });
      expect((await run("gateway.tls-configured"))["gateway:listener"]).toMatchObject({
        status: "fail",
        detail: "gateway.tls absent: plain HTTP only",
      });
      const noRedirect = await run(
        "gateway.tls-configured",
        config({ gateway: tls(7643, { redirectHttp: false }) }),
      );
      expect(noRedirect["gateway:listener"]?.status).toBe("fail");
    });

    test("tls-min-version: config floor and a live probe of the gateway and extra endpoints", async () => {
      const good = await tlsListener("TLSv1.2");
      const legacy = await tlsListener("TLSv1");
      const c = config({ gateway: tls(good), compliance: { tlsEndpoints: [`127.0.0.1:${legacy}`] } });
      const items = await run("gateway.tls-min-version", c, { probeTls });
      expect(items["gateway:tls"]).toMatchObject({ status: "pass", detail: "minVersion TLSv1.2" });
      expect(items[`tls:gateway:${good}`]).toMatchObject({
        status: "pass",
        detail: "TLS 1.0/1.1 refused; TLSv1.3 agreed",
      });
      expect(items[`tls:127.0.0.1:${legacy}`]).toMatchObject({
        status: "fail",
        detail: "accepts TLS 1.0/1.1",
      });

      // The gateway itself behind a listener that still speaks TLS 1.0.
      const behind = await run("gateway.tls-min-version", config({ gateway: tls(legacy) }), { probeTls });
      expect(behind[`tls:gateway:${legacy}`]?.status).toBe("fail");
      // Without TLS there is nothing to probe, and that is a failure.
      expect((await run("gateway.tls-min-version", config({}), { probeTls }))["gateway:tls"]).toMatchObject({
        status: "fail",
        detail: "no TLS configured",
      });
    });

    const routes = [
      {
        id: "shop",
        host: "shop.example.com",
        upstream: "http://127.0.0.1:9000",
        waf: { mode: "block" },
        rateLimits: [{ name: "per-ip", limit: 100, windowSeconds: 60 }],
        geo: { deny: ["KP", "IR"] },
      },
      {
        id: "blog",
        host: "blog.example.com",
        upstream: "http://127.0.0.1:9001",
        waf: { mode: "detect" },
        rateLimits: [{ name: "trial", limit: 10, windowSeconds: 60, shadow: true }],
        geo: { allow: ["IN", "KP"] },
        securityHeaders: { hstsMaxAge: 0, referrerPolicy: "unsafe-url" },
      },
      { id: "docs", host: "docs.example.com", upstream: "http://127.0.0.1:9002" },
      {
        id: "admin",
        host: "admin.example.com",
        upstream: "http://127.0.0.1:9003",
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { domains: ["example.com"] } }] },
      },
    ];
    const identity = {
      providers: [
        {
          id: "corp",
          issuer: "https://id.example.com",
          clientId: "rampart",
          clientSecret: "${env:CORP_SECRET}",
        },
      ],
    };

    test("waf-blocking, rate-limits and geo-policy judge public routes only", async () => {
      const c = config({ gateway: tls(7643), routes, identity, compliance: { geo: { deny: ["KP"] } } });
      const waf = await run("gateway.waf-blocking", c);
      expect(Object.keys(waf).sort()).toEqual(["route:blog", "route:docs", "route:shop"]);
      expect(waf["route:shop"]?.status).toBe("pass");
      expect(waf["route:blog"]).toMatchObject({ status: "fail", detail: "WAF mode detect" });
      expect(waf["route:docs"]).toMatchObject({ status: "fail", detail: "WAF not configured" });

      const limits = await run("gateway.rate-limits", c);
      expect(limits["route:shop"]?.status).toBe("pass");
      expect(limits["route:blog"]).toMatchObject({ status: "fail", detail: "only shadow limits: trial" });
      expect(limits["route:docs"]).toMatchObject({ status: "fail", detail: "no rate limit" });

      const geo = await run("gateway.geo-policy", c);
      expect(geo["route:shop"]?.status).toBe("pass");
      expect(geo["route:blog"]).toMatchObject({ status: "fail", detail: "admits KP" });
      expect(geo["route:docs"]).toMatchObject({ status: "fail", detail: "admits KP" });
      // "EU" in a route's deny list covers a declared member state.
      const eu = await run(
        "gateway.geo-policy",
        config({
          routes: [{ id: "eu-shop", upstream: "http://127.0.0.1:9000", geo: { deny: ["EU"] } }],
          compliance: { geo: { deny: ["DE", "KP"] } },
        }),
      );
      expect(eu["route:eu-shop"]).toMatchObject({ status: "fail", detail: "admits KP" });
      const undeclared = await run("gateway.geo-policy", config({ routes, identity }));
      expect(undeclared).toEqual({
        "gateway:geo": {
          resource: "gateway:geo",
          status: "not_applicable",
          detail: "no geo policy declared in compliance.geo",
        },
      });
    });

    test("security-headers: defaults pass; HSTS off (with TLS) and a leaky referrer policy fail", async () => {
      const items = await run("gateway.security-headers", config({ gateway: tls(7643), routes, identity }));
      expect(items["route:shop"]?.status).toBe("pass");
      expect(items["route:admin"]?.status).toBe("pass");
      expect(items["route:blog"]).toMatchObject({
        status: "fail",
        detail: "turned off: HSTS (hstsMaxAge 0), Referrer-Policy unsafe-url",
      });
    });
  });

  describe("identity", () => {
    const identity = {
      providers: [
        {
          id: "corp",
          issuer: "https://id.example.com",
          clientId: "rampart",
          clientSecret: "${env:CORP_SECRET}",
        },
      ],
    };
    const base = { upstream: "http://127.0.0.1:9000" };
    const routes = [
      {
        ...base,
        id: "grafana",
        environment: "prod",
        auth: { provider: "corp" },
        policy: {
          rules: [
            { allow: { groups: ["sre"], claims: { amr: ["mfa", "hwk"] } } },
            { allow: { serviceAccounts: ["ci"] } },
          ],
        },
      },
      {
        ...base,
        id: "console",
        environment: "prod",
        standingAccess: true,
        auth: { provider: "corp" },
        policy: { rules: [{ name: "staff", allow: { domains: ["example.com"] } }] },
      },
      {
        ...base,
        id: "wiki",
        environment: "uat",
        auth: { accept: ["api-key"] },
        policy: { rules: [{ allow: { kind: "service" } }] },
      },
      { ...base, id: "tools/jenkins" },
      { ...base, id: "shop" },
    ];

    test("sso-internal-routes: environment routes and listed globs need auth with an identity provider", async () => {
      const c = config({ routes, identity, compliance: { internalRoutes: ["tools/**"] } });
      const items = await run("identity.sso-internal-routes", c);
      expect(Object.keys(items).sort()).toEqual([
        "route:console",
        "route:grafana",
        "route:tools/jenkins",
        "route:wiki",
      ]);
      expect(items["route:grafana"]).toMatchObject({ status: "pass", detail: "SSO through corp" });
      expect(items["route:wiki"]).toMatchObject({
        status: "fail",
        detail: "auth without an identity provider: no SSO sign-in",
      });
      expect(items["route:tools/jenkins"]).toMatchObject({
        status: "fail",
        detail: "no auth: reachable without signing in",
      });
    });

    test("no-standing-prod-access: standingAccess routes and admin bindings to users in a prod deployment", async () => {
      const rbac = {
        bindings: [
          { id: "break-glass", role: "admin", users: ["corp:alice", "bob@example.com"] },
          { id: "sre-operators", role: "operator", groups: ["sre"] },
        ],
      };
      const dev = await run("identity.no-standing-prod-access", config({ routes, identity, rbac }));
      expect(dev["route:grafana"]?.status).toBe("pass");
      expect(dev["route:console"]).toMatchObject({
        status: "fail",
        detail: "standingAccess: true on a prod route",
      });
      expect(dev["rbac-binding:break-glass"]).toBeUndefined();

      // A binding made through the API (stored in rbac_bindings) counts as much as one in the file.
      const stored = JSON.stringify({ role: "admin", users: ["corp:carol"] });
      await sql`insert into rbac_bindings (id, binding, created_at, created_by)
          values ('api-admin', ${stored}, ${NOW}, 'corp:root')`.execute(store.db);
      const prod = await run(
        "identity.no-standing-prod-access",
        config({ environment: "prod", routes, identity, rbac }),
      );
      expect(prod["rbac-binding:break-glass"]).toMatchObject({
        status: "fail",
        detail: "admin bound to 2 user(s) in a prod deployment",
      });
      expect(prod["rbac-binding:api-admin"]?.status).toBe("fail");
      expect(JSON.stringify(prod)).not.toContain("alice");
      await sql`delete from rbac_bindings`.execute(store.db);
      const clean = await run("identity.no-standing-prod-access", config({ environment: "prod", identity }));
      expect(clean["rbac:admin"]?.status).toBe("pass");
    });

    test("mfa-required: prod routes whose people rules demand an MFA amr pass", async () => {
      const c = config({ routes, identity, compliance: { mfaRoutes: ["shop"] } });
      const items = await run("identity.mfa-required", c);
      expect(Object.keys(items).sort()).toEqual(["route:console", "route:grafana", "route:shop"]);
      expect(items["route:grafana"]).toMatchObject({ status: "pass" });
      expect(items["route:console"]).toMatchObject({
        status: "fail",
        detail: "staff: no amr/acr claim required",
      });
      expect(items["route:shop"]?.status).toBe("fail");
      const pwdOnly = config({
        routes: [
          {
            ...base,
            id: "db",
            environment: "prod",
            auth: { provider: "corp" },
            policy: { rules: [{ allow: { claims: { amr: ["pwd", "mfa"] } } }] },
          },
        ],
        identity,
      });
      expect((await run("identity.mfa-required", pwdOnly))["route:db"]).toMatchObject({
        status: "fail",
        detail: "allow rule 1: amr accepts pwd",
      });
    });
  });

  describe("secrets", () => {
    let secrets: Secrets;
    let clock: ReturnType<typeof manualClock>;
    const owner = callerOf("user", "corp:root", [], ["admin"]);
    const secretsConfig = secretsConfigSchema.parse({
      policies: [
        {
          name: "ops",
          paths: ["/prod/**"],
          capabilities: ["read", "list", "create", "update"],
          groups: ["ops"],
        },
      ],
    });
    const ops = callerOf("user", "corp:ops", ["ops"]);

    beforeAll(async () => {
      clock = manualClock("2026-01-01T00:00:00Z");
      secrets = await openSecrets({
        store,
        config: () => secretsConfig,
        dataDir: dir,
        clock,
        emit: () => {},
      });
      // Written 1 January: the payments key rotates every 90 days (metadata), the database
      // password every 30 (a rotation schedule in the config), the tracker token has no period.
      await secrets.put(ops, "/prod/payments/api", { value: "pk_live_value_never_read" });
      await secrets.setMetadata(owner, "/prod/payments/api", { rotationPeriodDays: 90 });
      await secrets.put(ops, "/prod/db/main", { password: "db-password-never-read" });
      await secrets.put(ops, "/prod/tracker/token", { value: "tracker-token-never-read" });
    });
    afterAll(async () => {
      await secrets?.close();
    });

    const withSchedule = () =>
      config({
        secrets: {
          kekRotationDays: 90,
          rotation: [{ path: "/prod/db/main", everyDays: 30, target: { kind: "random" } }],
        },
      });

    test("rotation-age: each path with a period is judged from its current version's age", async () => {
      const feb = await run("secrets.rotation-age", withSchedule(), {}, new Date("2026-01-20T00:00:00Z"));
      expect(feb["secret:/prod/payments/api"]).toMatchObject({
        status: "pass",
        detail: "rotated 19 days ago (every 90)",
      });
      expect(feb["secret:/prod/db/main"]).toMatchObject({
        status: "pass",
        detail: "rotated 19 days ago (every 30)",
      });
      expect(feb["secret:/prod/tracker/token"]).toBeUndefined();

      const items = await run("secrets.rotation-age", withSchedule(), {}, new Date("2026-02-15T00:00:00Z"));
      expect(items["secret:/prod/payments/api"]?.status).toBe("pass");
      expect(items["secret:/prod/db/main"]).toMatchObject({
        status: "fail",
        detail: "rotated 45 days ago (every 30); due 2026-01-31",
        failingSince: new Date("2026-01-31T00:00:00Z"),
      });
      expect(JSON.stringify(items)).not.toContain("never-read");
    });

    test("encrypted-at-rest: sealed versions pass; one pointing at a missing KEK fails", async () => {
      const items = await run("secrets.encrypted-at-rest");
      expect(items["secret:/prod/db/main"]).toMatchObject({
        status: "pass",
        detail: "version 1 sealed under KEK 1",
      });
      // A row whose key-encryption key is gone (restored from another store, or tampered with).
      await sql`update secret_versions set kek_version = 42 where path = '/prod/tracker/token'`.execute(
        store.db,
      );
      try {
        const after = await run("secrets.encrypted-at-rest");
        expect(after["secret:/prod/tracker/token"]).toMatchObject({
          status: "fail",
          detail: "version 1 lacks KEK 42",
        });
        expect(after["secret:/prod/payments/api"]?.status).toBe("pass");
      } finally {
        await sql`update secret_versions set kek_version = 1 where path = '/prod/tracker/token'`.execute(
          store.db,
        );
      }
    });

    test("kek-rotation: the newest KEK's age against secrets.kekRotationDays", async () => {
      const early = await run("secrets.kek-rotation", withSchedule(), {}, new Date("2026-02-01T00:00:00Z"));
      expect(early["secrets:kek"]).toMatchObject({
        status: "pass",
        detail: "KEK 1 is 31 days old (every 90)",
      });
      const late = await run("secrets.kek-rotation", withSchedule(), {}, new Date("2026-05-01T00:00:00Z"));
      expect(late["secrets:kek"]).toMatchObject({
        status: "fail",
        detail: "KEK 1 is 120 days old (every 90); due 2026-04-01",
        failingSince: new Date("2026-04-01T00:00:00Z"),
      });
      clock.set("2026-04-20T00:00:00Z");
      await secrets.rotateKek(by);
      const rotated = await run("secrets.kek-rotation", withSchedule(), {}, new Date("2026-05-01T00:00:00Z"));
      expect(rotated["secrets:kek"]).toMatchObject({
        status: "pass",
        detail: "KEK 2 is 11 days old (every 90)",
      });
    });
  });

  test("no-plaintext-config: credentials must come from references in the unresolved config", async () => {
    const rawConfig = {
      version: 1,
      database: { url: "postgres://rampart:hunter2-literal@db.internal:5432/rampart" },
      hotState: { redisUrl: "redis://:${secret:/prod/redis/main#password}@redis.internal:6379" },
      events: { ingestTokens: [{ name: "edge", token: "${env:RAMPART_INGEST_TOKEN}" }] },
      gateway: {
        controlPlane: { url: "https://cp.internal", token: "0123456789abcdef0123456789abcdef-literal" },
      },
      identity: {
        providers: [
          {
            id: "corp",
            issuer: "https://id.example.com",
            clientId: "rampart",
            clientSecret: "${file:/run/secrets/oidc}",
          },
        ],
      },
      privacy: { smtp: { url: "smtps://dpo:mail-pass-literal@smtp.example.com:465" } },
      siem: {
        exporters: [
          {
            type: "otlp",
            endpoint: "https://otel.example.com",
            headers: { authorization: "Bearer ${env:OTEL_TOKEN}" },
          },
        ],
      },
      alerts: {
        channels: [
          { name: "sec", type: "slack", url: "https://hooks.slack.com/services/T0/B0/literalHookKey" },
        ],
      },
      compliance: { tickets: { provider: "github", repo: "acme/security", token: "ghp_literalTokenValue" } },
    };
    const items = await run("secrets.no-plaintext-config", config({}), { rawConfig });
    expect(items["config:database.url"]).toMatchObject({
      status: "fail",
      detail: "password in URL written in the file in clear",
    });
    expect(items["config:hotState.redisUrl"]?.status).toBe("pass");
    expect(items["config:events.ingestTokens[0].token"]?.status).toBe("pass");
    expect(items["config:gateway.controlPlane.token"]).toMatchObject({
      status: "fail",
      detail: "credential written in the file in clear",
    });
    expect(items["config:identity.providers[0].clientSecret"]?.status).toBe("pass");
    expect(items["config:privacy.smtp.url"]?.status).toBe("fail");
    expect(items["config:siem.exporters[0].headers.authorization"]?.status).toBe("pass");
    expect(items["config:compliance.tickets.token"]?.status).toBe("fail");
    expect(items["config:alerts.channels[0].url"]).toMatchObject({
      status: "fail",
      detail: "webhook URL written in the file in clear",
    });
    // Names and URLs without credentials are not credential fields.
    expect(items["config:gateway.controlPlane.url"]).toBeUndefined();
    expect(items["config:identity.providers[0].clientId"]).toBeUndefined();
    // The values themselves never reach an item.
    expect(JSON.stringify(items)).not.toMatch(/hunter2|literal|mail-pass/);
    const without = await run("secrets.no-plaintext-config");
    expect(without["config:raw"]?.status).toBe("not_applicable");
  });

  describe("gates", () => {
    const scanClock = manualClock("2026-05-20T08:00:00Z");
    const evidence = () => createScanEvidence({ store, clock: scanClock, emit: () => {} });
    const result = (kind: ScanResult["kind"], target: string, findings: Finding[]): ScanResult => ({
      kind,
      target,
      startedAt: scanClock.now().toISOString(),
      finishedAt: scanClock.now().toISOString(),
      findings,
      stats: {},
    });
    const vuln = (
      id: string,
      severity: Finding["severity"],
      fingerprint: string,
      suppressed = false,
    ): Finding => ({
      rule: id,
      severity,
      title: `${id} in openssl`,
      location: { resource: "registry.example.com/shop/web:1.4", path: "openssl@3.0.14-1" },
      fingerprint,
      details: { kind: "vulnerability", package: "openssl", trivySeverity: severity.toUpperCase() },
      ...(suppressed ? { suppressed: { by: "ignore" as const, reason: "not reachable" } } : {}),
    });
    const misconfig = (rule: string, severity: Finding["severity"], fingerprint: string): Finding => ({
      rule,
      severity,
      title: `${rule}: container runs as root`,
      location: { file: "deploy/web.yaml", resource: "Deployment/web" },
      fingerprint,
    });

    test("trivy-critical-sla: open critical CVEs fail from their first sighting; clean targets pass", async () => {
      expect((await run("gates.trivy-critical-sla"))["gates:trivy"]?.status).toBe("not_applicable");
      const ev = evidence();
      await ev.record(
        result("trivy", "registry.example.com/shop/web:1.4", [
          vuln("CVE-2026-0001", "critical", "aaaa0001"),
          vuln("CVE-2026-0002", "high", "aaaa0002"),
          vuln("CVE-2026-0003", "critical", "aaaa0003", true),
        ]),
        "shop/web",
        by,
      );
      await ev.record(result("trivy", "registry.example.com/shop/api:2.0", []), "shop/api", by);
      scanClock.set("2026-05-28T08:00:00Z");
      // Seen again a week later: first_seen stays at the first sighting.
      await ev.record(
        result("trivy", "registry.example.com/shop/web:1.4", [vuln("CVE-2026-0001", "critical", "aaaa0001")]),
        "shop/web",
        by,
      );
      const items = await run("gates.trivy-critical-sla");
      expect(items["finding:aaaa0001"]).toMatchObject({
        status: "fail",
        detail: "critical CVE-2026-0001 in registry.example.com/shop/web:1.4: CVE-2026-0001 in openssl",
        failingSince: new Date("2026-05-20T08:00:00Z"),
      });
      expect(items["finding:aaaa0002"]).toBeUndefined();
      expect(items["finding:aaaa0003"]).toBeUndefined();
      expect(items["target:shop/api:registry.example.com/shop/api:2.0"]?.status).toBe("pass");
      expect(items["target:shop/web:registry.example.com/shop/web:1.4"]).toBeUndefined();

      // Fixed: the next scan no longer reports it, so the target passes.
      await ev.record(result("trivy", "registry.example.com/shop/web:1.4", []), "shop/web", by);
      const fixed = await run("gates.trivy-critical-sla");
      expect(fixed["finding:aaaa0001"]).toBeUndefined();
      expect(fixed["target:shop/web:registry.example.com/shop/web:1.4"]?.status).toBe("pass");
    });

    test("k8s-posture and iac-posture: open high/critical findings fail; clean targets pass", async () => {
      expect((await run("gates.iac-posture"))["gates:iac"]?.status).toBe("not_applicable");
      const ev = evidence();
      await ev.record(
        result("k8s", "deploy/", [
          misconfig("KSV012", "high", "bbbb0001"),
          misconfig("KSV011", "low", "bbbb0002"),
        ]),
        "shop/deploy",
        by,
      );
      await ev.record(result("k8s", "charts/", []), "shop/charts", by);
      const items = await run("gates.k8s-posture");
      expect(items["finding:bbbb0001"]).toMatchObject({ status: "fail" });
      expect(items["finding:bbbb0002"]).toBeUndefined();
      expect(items["target:shop/charts:charts/"]?.status).toBe("pass");
      await ev.record(
        result("iac", "infra/", [misconfig("AWS-S3-001", "critical", "cccc0001")]),
        "shop/infra",
        by,
      );
      expect((await run("gates.iac-posture"))["finding:cccc0001"]?.status).toBe("fail");
    });

    test("secrets-in-code: any open secret finding fails", async () => {
      const ev = evidence();
      await ev.record(
        result("secrets", "repo:shop", [
          {
            rule: "aws-access-key",
            severity: "critical",
            title: "AWS access key (value redacted)",
            location: { file: "app/config.py", line: 3 },
            fingerprint: "dddd0001",
          },
        ]),
        "shop/web",
        by,
      );
      await ev.record(result("secrets", "repo:blog", []), "blog/web", by);
      const items = await run("gates.secrets-in-code");
      expect(items["finding:dddd0001"]).toMatchObject({ status: "fail" });
      expect(items["target:blog/web:repo:blog"]?.status).toBe("pass");
    });
  });

  test("audit.retention and audit.verification", async () => {
    const items = await run(
      "audit.retention",
      config({ audit: { retention: { security: 400, audit: 90 } } }),
    );
    expect(items["audit:security"]).toMatchObject({ status: "pass" });
    expect(items["audit:audit"]).toMatchObject({
      status: "fail",
      detail: "audit entries kept 90 days (at least 365)",
    });

    const c = config({ audit: { verifyIntervalHours: 6 } });
    const verified = (ok: boolean, hoursAgo: number, problem?: string) => ({
      auditVerification: () => ({
        ok,
        at: new Date(NOW.getTime() - hoursAgo * HOUR),
        ...(problem ? { problem } : {}),
      }),
    });
    expect((await run("audit.verification", c, verified(true, 5)))["audit:verification"]?.status).toBe(
      "pass",
    );
    expect((await run("audit.verification", c, verified(true, 13)))["audit:verification"]).toMatchObject({
      status: "fail",
      detail: "last verified 13 h ago, more than 12 h",
    });
    expect(
      (await run("audit.verification", c, verified(false, 1, "chain broken at entry 812")))[
        "audit:verification"
      ],
    ).toMatchObject({
      status: "fail",
      detail: "verification failed 1 h ago: chain broken at entry 812",
    });
    expect(
      (await run("audit.verification", c, { auditVerification: () => undefined }))["audit:verification"]
        ?.status,
    ).toBe("fail");
  });

  describe("privacy", () => {
    test("dsr-deadlines: open requests past their due date fail, without naming the person", async () => {
      const clock = manualClock("2026-05-01T10:00:00Z");
      const requests = createPrivacyRequests({
        store,
        clock,
        emit: () => {},
        engine: recordingEngine(),
        mailer: recordingMailer(),
        config: () =>
          privacyRequestsConfigSchema.parse({
            publicUrl: "https://privacy.example",
            operatorEmail: "dpo@example.com",
          }),
      });
      const first = await requests.record(
        { kind: "objection", email: "ana@example.com" },
        by,
        "called back on the number on file",
      );
      clock.set("2026-05-25T10:00:00Z");
      const second = await requests.record(
        { kind: "erasure", email: "ben@example.com" },
        by,
        "letter with signature",
      );
      const items = await run("privacy.dsr-deadlines");
      expect(items[`dsr:${first.id}`]).toMatchObject({ status: "fail", failingSince: new Date(first.dueAt) });
      expect(items[`dsr:${second.id}`]).toMatchObject({ status: "pass" });
      expect(JSON.stringify(items)).not.toMatch(/ana@|ben@/);
    });

    test("breach-clocks: a missed clock fails; running clocks pass", async () => {
      const clock = manualClock("2026-06-01T09:00:00Z");
      const breaches = createBreachRegister({
        store,
        clock,
        emit: () => {},
        config: () => breachConfigSchema.parse({}),
      });
      const late = await breaches.open(
        {
          title: "Mailer bucket public",
          description: "Export bucket readable by anyone",
          regimes: ["gdpr"],
          awareAt: "2026-05-27T09:00:00Z",
        },
        by,
      );
      const fresh = await breaches.open(
        {
          title: "Lost laptop",
          description: "Encrypted laptop lost",
          regimes: ["gdpr"],
          awareAt: "2026-06-01T08:00:00Z",
        },
        by,
      );
      const items = await run("privacy.breach-clocks");
      expect(items[`breach:${late.id}`]).toMatchObject({
        status: "fail",
        detail: "missed: GDPR authority (due 2026-05-30T09:00:00.000Z)",
        failingSince: new Date("2026-05-30T09:00:00Z"),
      });
      expect(items[`breach:${fresh.id}`]).toMatchObject({ status: "pass" });
      expect(items[`breach:${fresh.id}`]?.detail).toMatch(/^running: GDPR authority due 2026-06-04T08:00/);
      expect(JSON.stringify(items)).not.toMatch(/laptop|bucket/i);
      // Notified in time: the clock is met and the breach passes.
      clock.set("2026-06-01T11:00:00Z");
      await breaches.recordNotification(
        fresh.id,
        "gdpr",
        "authority",
        new Date("2026-06-01T10:00:00Z"),
        "ref-1",
        by,
      );
      expect((await run("privacy.breach-clocks"))[`breach:${fresh.id}`]?.status).toBe("pass");
    });

    test("register: findings fail per processor or DPIA; those in order pass", async () => {
      const clock = manualClock("2026-05-01T00:00:00Z");
      const register = createPrivacyRegister({
        store,
        clock,
        emit: () => {},
        config: { homeRegions: ["IN"] },
      });
      await register.addProcessor(
        {
          key: "mailer",
          name: "Mailer Inc",
          service: "email",
          regions: ["IN"],
          dpa: { signedAt: "2026-04-01T00:00:00Z", reference: "DPA-7" },
          lastAssessedAt: "2026-04-01T00:00:00Z",
        },
        by,
      );
      await register.addProcessor(
        { key: "analytics", name: "Analytics Co", service: "analytics", regions: ["US"] },
        by,
      );
      const privacy = { register } as unknown as Privacy;
      const items = await run("privacy.register", config({}), { privacy });
      expect(items["processor:mailer"]).toMatchObject({ status: "pass" });
      expect(items["processor:analytics"]?.status).toBe("fail");
      expect(items["processor:analytics"]?.detail).toContain("processor_without_dpa");
      expect(items["processor:analytics"]?.detail).toContain("transfer_without_mechanism");
      expect((await run("privacy.register"))["privacy:register"]?.status).toBe("not_applicable");
    });
  });

  test("incidents.mttr: mean time to resolve per severity, and open incidents past target", async () => {
    const clock = manualClock("2026-05-20T00:00:00Z");
    const incidents = createIncidents({ store, clock, emit: () => {}, logger: pino({ level: "silent" }) });
    const resolve = async (priority: "P0" | "P1", hours: number) => {
      const i = await incidents.open({ title: "Credential stuffing on login", priority }, by);
      clock.advance(hours * HOUR);
      for (const to of ["triaged", "contained", "eradicated", "recovered"] as const)
        await incidents.transition(i.id, to, by);
      clock.advance(DAY);
      return i;
    };
    await resolve("P0", 10);
    await resolve("P0", 20);
    await resolve("P1", 100);
    clock.set("2026-05-31T00:00:00Z");
    const stuck = await incidents.open({ title: "Suspicious admin login", priority: "P0" }, by);
    clock.set("2026-06-01T11:00:00Z");
    const recent = await incidents.open({ title: "WAF spike", priority: "P1" }, by);
    const items = await run("incidents.mttr");
    expect(items["mttr:critical"]).toMatchObject({
      status: "pass",
      detail: "mean 15 h over 2 resolved in 30 days (target 24 h)",
    });
    expect(items["mttr:high"]).toMatchObject({
      status: "fail",
      detail: "mean 100 h over 1 resolved in 30 days (target 72 h)",
    });
    expect(items[`incident:${stuck.id}`]).toMatchObject({
      status: "fail",
      failingSince: new Date("2026-06-01T00:00:00Z"),
    });
    expect(items[`incident:${recent.id}`]?.status).toBe("pass");
    // Targets follow compliance.mttrHours.
    const relaxed = await run("incidents.mttr", config({ compliance: { mttrHours: { high: 120 } } }));
    expect(relaxed["mttr:high"]?.status).toBe("pass");
  });
});

import { describe, expect, it } from "vitest";
import { defaultConfig, parseConfig, rampartConfigSchema, routeConfigSchema } from "./index.ts";

describe("schema", () => {
  it("defaults every section", () => {
    expect(defaultConfig()).toEqual({
      version: 1,
      environment: "dev",
      server: { host: "127.0.0.1", port: 7600 },
      database: { dataDir: "./.rampart" },
      hotState: {},
      events: { ingestTokens: [], batchMaxEvents: 1000, batchMaxDelayMs: 50 },
      gateway: {
        host: "127.0.0.1",
        port: 7680,
        trustedProxies: [],
        ipRules: { allow: [], deny: [] },
        rateLimitWhenUnavailable: "open",
        geo: { unknownCountries: "allow" },
        bots: { dnsServers: [] },
        maxBodyBytes: 10 * 1024 * 1024,
        maxHeaderBytes: 16 * 1024,
        clientHeaderTimeoutMs: 10_000,
        clientRequestTimeoutMs: 60_000,
        clientKeepAliveTimeoutMs: 5000,
        maxConnections: 10000,
        connectTimeoutMs: 5000,
        responseTimeoutMs: 30_000,
        retries: 1,
        ejectAfterFailures: 3,
        ejectSeconds: 10,
        eventIntervalSeconds: 10,
      },
      audit: {
        retention: { security: 365, audit: 2555, application: 90 },
        checkpointIntervalSeconds: 10,
        verifyIntervalHours: 24,
        period: "month",
      },
      routes: [],
      identity: {
        providers: [],
        sessions: { idleTimeoutMinutes: 30, absoluteTimeoutHours: 12 },
        tokens: { algorithm: "EdDSA", rotationHours: 24 },
        serviceAccounts: [],
        clientCertificates: [],
      },
      rbac: { roles: {}, bindings: [] },
      jit: { requestExpiryHours: 24, roles: [], notify: { webhooks: [], slack: [] } },
      secrets: {
        root: { provider: "file" },
        kekRotationDays: 90,
        maxVersions: 10,
        policies: [],
        rotation: [],
        kubernetes: { namespaces: [] },
      },
      detect: { builtin: true, disable: [], rules: [] },
      alerts: {
        channels: [],
        routes: [],
        retry: { maxAttempts: 12, initialBackoff: 2000, maxBackoff: 600_000, timeout: 10_000 },
      },
      incidents: { openAt: "P2" },
      playbooks: { dirs: ["./playbooks"], autoRun: true, builtins: true },
      siem: { exporters: [] },
      iam: { everyHours: 0, windowDays: 90 },
      privacy: {
        map: [],
        connections: {},
        dsr: { maxRowsPerCollection: 10000, leaseSeconds: 600, resumeOnStart: true },
        smtp: { from: "privacy@localhost" },
        requests: {
          deadlines: {
            responseMonths: 1,
            extensionMonths: 2,
            grievanceDays: 90,
            remindDays: [7, 1],
            unverifiedDays: 7,
          },
          approval: {},
          otp: { digits: 6, ttlMinutes: 15, maxAttempts: 5, maxSends: 3, resendAfterSeconds: 60 },
          appTokens: [],
          maxAttempts: 5,
          publicPage: true,
          rateLimit: { burst: 5, perMinute: 2, verifyBurst: 10, verifyPerMinute: 5 },
          downloadDays: 7,
          organisation: "Rampart",
        },
        consent: {
          retention: "P7Y",
          childRefusedPurposes: [
            "tracking",
            "behavioural_monitoring",
            "marketing.advertising",
            "advertising",
            "personalize.profiling",
            "targeted_advertising",
          ],
        },
        register: { homeRegions: [], reviewInterval: "P1Y", assessmentMaxAge: "P1Y" },
        breaches: {
          regimes: ["gdpr", "dpdp", "cert_in"],
          hours: {
            gdprAuthority: 72,
            dpdpBoardIntimation: 24,
            dpdpPrincipals: 24,
            dpdpBoardReport: 72,
            certIn: 6,
          },
          reminders: ["50%", "1h"],
        },
        retention: {
          enabled: true,
          intervalMinutes: 60,
          batchSize: 500,
          maxPerRun: 10000,
          mail: { subject: "Your account is about to be deleted" },
        },
      },
      compliance: {
        enabled: true,
        intervalSeconds: 3600,
        frameworks: ["dpdp", "gdpr", "iso27001", "iso27017", "iso27018", "soc2", "nist-csf-2.0", "cis-k8s"],
        checks: {},
        snapshotValidityHours: 48,
        tlsEndpoints: [],
        internalRoutes: [],
        mfaRoutes: [],
        mttrHours: { critical: 24, high: 72, medium: 168, low: 720 },
        reports: { organisation: "Rampart" },
      },
    });
  });

  it("refuses identity settings that would widen access or point nowhere", async () => {
    const problems = (routes: unknown[], identity: unknown = {}) =>
      rampartConfigSchema
        .safeParse({ version: 1, identity, routes })
        .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    const upstream = "http://127.0.0.1:1";
    // Sign-in with no policy would admit anyone the provider knows: say who may use the route.
    expect(problems([{ path: "/a", upstream, auth: {} }])).toEqual([
      expect.stringMatching(/^routes\.0\.policy: a route with auth needs a policy/),
    ]);
    const policy = { rules: [{ allow: { groups: ["sre"] } }] };
    expect(problems([{ path: "/a", upstream, auth: { provider: "okta" }, policy }])).toEqual([
      "routes.0.auth.provider: no identity provider 'okta' (identity.providers: none)",
    ]);
    expect(problems([{ path: "/a", upstream, policy: { rules: [{ allow: { grups: ["sre"] } }] } }])).toEqual([
      expect.stringMatching(/^routes\.0\.policy\.rules\.0\.allow: Unrecognized key: "grups"/),
    ]);
    expect(
      problems([
        { path: "/a", upstream, id: "tools" },
        { path: "/b", upstream, id: "tools" },
      ]),
    ).toEqual(["routes.1.id: routes[0] has the id 'tools' too; give one an id of its own"]);
    expect(problems([{ path: "/a", upstream, standingAccess: true }])).toEqual([
      "routes.0.standingAccess: applies to environment: prod routes only",
    ]);
    expect(problems([], { tokens: { secret: "short" } })).toEqual([
      "identity.tokens.secret: secret must be at least 32 characters",
    ]);
  });

  it("reads a route's parameter allowlist and refuses an enum without values", () => {
    const route = (parameters: unknown) =>
      routeConfigSchema.safeParse({ path: "/", upstream: "http://127.0.0.1:1", waf: { parameters } });
    const ok = route([{ targets: ["ARGS:id"], kind: "integer" }]);
    expect(ok.success && ok.data.waf?.parameters).toEqual([
      { targets: ["ARGS:id"], kind: "integer", onMismatch: "inspect" },
    ]);
    expect(route([{ targets: ["ARGS:sort"], kind: "enum" }]).error?.message).toMatch(
      /give values for kind enum/,
    );
    expect(route([{ targets: ["id"], kind: "integer" }]).error?.message).toMatch(
      /expected a target such as ARGS:q/,
    );
    expect(route([{ targets: ["ARGS:id"], kind: "regex" }]).success).toBe(false);
  });

  it("returns a fresh object each time", () => {
    const a = defaultConfig();
    a.routes.push(routeConfigSchema.parse({ upstream: "http://x" }));
    expect(defaultConfig().routes).toEqual([]);
  });

  it("reads an empty section as absent", async () => {
    const config = await parseConfig("version: 1\nhotState:\nroutes:\naudit:\n  retention:\n", "r.yaml", {});
    expect(config.hotState).toEqual({});
    expect(config.routes).toEqual([]);
    expect(config.audit.retention.security).toBe(365);
  });

  it("accepts the URL schemes each section expects and no others", () => {
    const ok = (input: object) => rampartConfigSchema.safeParse({ version: 1, ...input }).success;
    expect(ok({ database: { url: "postgres://db/rampart" } })).toBe(true);
    expect(ok({ database: { url: "postgresql://u:p@db:5432/rampart" } })).toBe(true);
    expect(ok({ database: { url: "mysql://db/rampart" } })).toBe(false);
    expect(ok({ hotState: { redisUrl: "redis://cache:6379" } })).toBe(true);
    expect(ok({ hotState: { redisUrl: "rediss://cache:6380" } })).toBe(true);
    expect(ok({ hotState: { redisUrl: "http://cache" } })).toBe(false);
    expect(ok({ routes: [{ upstream: "https://svc.internal" }] })).toBe(true);
    expect(ok({ routes: [{ upstream: "http:/svc" }] })).toBe(false);
    expect(ok({ routes: [{ upstream: "file:///etc/passwd" }] })).toBe(false);
    expect(ok({ routes: [{ upstream: "svc.internal" }] })).toBe(false);
    expect(ok({ routes: [{ upstreams: ["http://a:1", "http://b:2"] }] })).toBe(true);
    expect(ok({ routes: [{ upstreams: [] }] })).toBe(false);
    expect(ok({ routes: [{ upstream: "http://a:1", upstreams: ["http://b:2"] }] })).toBe(false);
    expect(ok({ gateway: { trustedProxies: ["10.0.0.0/8", "::1", "fd00::/8"] } })).toBe(true);
    expect(ok({ gateway: { trustedProxies: ["10.0.0.0/33"] } })).toBe(false);
  });

  it("requires ingest tokens of at least 32 characters with unique names", () => {
    const issues = (tokens: unknown) =>
      rampartConfigSchema
        .safeParse({ version: 1, events: { ingestTokens: tokens } })
        .error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    const long = "k".repeat(32);
    expect(issues([{ name: "a", token: long }])).toBeUndefined();
    expect(issues([{ name: "a", token: "k".repeat(31) }])).toEqual([
      "events.ingestTokens.0.token: token must be at least 32 characters",
    ]);
    expect(
      issues([
        { name: "a", token: long },
        { name: "a", token: long },
      ]),
    ).toEqual(["events.ingestTokens.1.name: name already used by ingestTokens[0]"]);
  });
});

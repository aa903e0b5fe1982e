import { secretsConfigSchema } from "../appsec/secrets/schema.ts";
import { alertsConfigSchema } from "../monitoring/alerts/schema.ts";
import { detectConfigSchema } from "../monitoring/detect/schema.ts";
import { incidentsConfigSchema } from "../monitoring/incidents/schema.ts";
import { playbooksConfigSchema } from "../monitoring/playbooks/schema.ts";
import { iamConfigSchema } from "../identity/iam/schema.ts";
import { siemConfigSchema } from "../monitoring/siem/schema.ts";
import { privacyConfigSchema } from "../data/privacy/config.ts";
import { complianceConfigSchema } from "../monitoring/compliance/config.ts";
import {
  identityConfigSchema,
  jitConfigSchema,
  rbacConfigSchema,
  routeAuthSchema,
  routePolicySchema,
} from "../identity/schema.ts";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { VALUE_KINDS } from "../network/waf/allowlist.ts";

// One section per module: a module that needs configuration adds its own schema here and one
// line to `rampartConfigSchema`. Every object is strict so a misspelt key is an error, not a
// silently ignored setting.

// References resolve to strings, so a string of digits counts as a number: `port: ${env:PORT}`.
const digitsToNumber = (value: unknown) =>
  typeof value === "string" && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;

function integer(min: number, max = Number.MAX_SAFE_INTEGER, tooSmall?: string) {
  return z.preprocess(
    digitsToNumber,
    z
      .number()
      .int()
      .min(min, tooSmall === undefined ? undefined : { error: tooSmall })
      .max(max),
  );
}

function urlWithProtocols(protocols: readonly string[], message: string) {
  // A missing key falls through to the generic "required" message.
  const typeError = (issue: { input?: unknown }) => (issue.input === undefined ? undefined : message);
  return z.string({ error: typeError }).refine((value) => {
    // Require the literal `scheme://` too: WHATWG parsing would quietly repair `http:/svc`.
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return (
      protocols.includes(url.protocol) &&
      url.host !== "" &&
      value.toLowerCase().startsWith(`${url.protocol}//`)
    );
  }, message);
}

/** An empty section (`hotState:` with every key commented out) reads as absent: defaults apply. */
function emptyIsAbsent<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === null ? undefined : value), schema);
}

const httpUrl = () => urlWithProtocols(["http:", "https:"], "expected an http(s) URL");
const days = (fallback: number) => integer(1).default(fallback);

export const environmentSchema = z.enum(["dev", "sit", "uat", "prod"]);

export const serverConfigSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: integer(0, 65_535).default(7600),
  /** URL users reach the console/API at, when it differs from host:port (behind a load balancer). */
  publicUrl: httpUrl().optional(),
  /**
   * The id of the gateway route in front of the API: people signed in there reach the API with
   * the gateway's identity assertion, addressed to this audience. Absent: no assertions accepted.
   */
  assertionAudience: z.string().min(1).optional(),
});

export const databaseConfigSchema = z.strictObject({
  /** PostgreSQL connection URL; absent means embedded PGlite in `dataDir`. */
  url: urlWithProtocols(
    ["postgres:", "postgresql:"],
    "expected a postgres:// or postgresql:// URL",
  ).optional(),
  dataDir: z.string().min(1).default("./.rampart"),
});

export const hotStateConfigSchema = z.strictObject({
  /** Redis URL for state shared by gateway replicas; absent means in-process memory. */
  redisUrl: urlWithProtocols(["redis:", "rediss:"], "expected a redis:// or rediss:// URL").optional(),
});

export const ingestTokenSchema = z.strictObject({
  name: z.string().min(1),
  token: z.string().min(32, { error: "token must be at least 32 characters" }),
});

export const eventsConfigSchema = z.strictObject({
  ingestTokens: emptyIsAbsent(
    z
      .array(ingestTokenSchema)
      .default(() => [])
      .superRefine((tokens, ctx) => {
        // Messages name the first index, never the value: a name may come from a reference.
        const first = new Map<string, number>();
        tokens.forEach((token, index) => {
          const earlier = first.get(token.name);
          if (earlier === undefined) first.set(token.name, index);
          else
            ctx.addIssue({
              code: "custom",
              message: `name already used by ingestTokens[${earlier}]`,
              path: [index, "name"],
            });
        });
      }),
  ),
  batchMaxEvents: integer(1, 1_000_000).default(1000),
  batchMaxDelayMs: integer(0, 60_000).default(50),
});

export const auditConfigSchema = z.strictObject({
  retention: emptyIsAbsent(
    z
      .strictObject({
        // Security logs must outlive a year of audit lookback (ISO 27001 A.8.15, DPDP Rules).
        security: integer(
          365,
          Number.MAX_SAFE_INTEGER,
          "security retention must be at least 365 days",
        ).default(365),
        audit: days(2555),
        application: days(90),
      })
      .prefault({}),
  ),
  checkpointIntervalSeconds: integer(1, 86_400).default(10),
  /** How often the server re-verifies the whole log (hash chains, MACs, checkpoints); 0 turns it off. */
  verifyIntervalHours: integer(0, 8760).default(24),
  period: z.enum(["month", "week", "day"]).default("month"),
  /** Key file (Ed25519 signing key and MAC secret), kept outside the database; default <dataDir>/keys/audit.json. */
  keyFile: z.string().min(1).optional(),
});

const ipOrCidr = () =>
  z.string().refine((v) => {
    try {
      if (v.includes("/")) ipaddr.parseCIDR(v);
      else ipaddr.parse(v);
      return true;
    } catch {
      return false;
    }
  }, "expected an IP address or CIDR range, e.g. 10.0.0.0/8");

/** Allow and deny lists of IPs and CIDR ranges; deny wins, and a non-empty allow list admits only its members. */
export const ipRulesSchema = z.strictObject({
  allow: z.array(ipOrCidr()).default(() => []),
  deny: z.array(ipOrCidr()).default(() => []),
});

// ISO 3166-1 alpha-2 codes, or "EU" for the 27 member states.
const countryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, { error: 'expected an ISO 3166 country code such as "IN", or "EU"' });

/** Countries admitted or refused for a route, by the client IP's country. */
export const geoRulesSchema = z.strictObject({
  allow: z.array(countryCode).default(() => []),
  deny: z.array(countryCode).default(() => []),
  /** For addresses without a country (private ranges, unlisted): overrides gateway.geo.unknownCountries. */
  unknownCountries: z.enum(["allow", "deny"]).optional(),
});

/**
 * Bot protection for a route: a score from 0 (a person) to 100 (a bot) from request signals, and
 * what happens above each threshold. `allow` only scores (X-Rampart-Bot-Score to the upstream);
 * `challenge` answers a proof-of-work page above `challengeAbove`; `block` also refuses above
 * `blockAbove`. Never applied to authenticated service accounts.
 */
const wafTarget = z
  .string()
  .regex(/^[A-Z_]+(:.+)?$/, { error: "expected a target such as ARGS:q or ARGS:*" });

/** A false positive tuned away: rules (by id or tag) ignored, on some targets only if given. */
export const wafExclusionSchema = z
  .strictObject({
    rules: z.array(z.string().min(1)).optional(),
    tags: z.array(z.string().min(1)).optional(),
    /** `ARGS:comment`, `REQUEST_HEADERS:referer`, or a family such as `ARGS:*`. */
    targets: z.array(wafTarget).optional(),
  })
  .refine((e) => e.rules !== undefined || e.tags !== undefined, { error: "give rules or tags to exclude" });

/**
 * A parameter allowlist entry: values of these targets that fit `kind` skip the detectors; others
 * are inspected as usual, or refused with `onMismatch: block`.
 */
export const wafParameterSchema = z
  .strictObject({
    targets: z.array(wafTarget).min(1),
    kind: z.enum(VALUE_KINDS),
    values: z.array(z.string()).min(1).optional(),
    maxLength: integer(1, 65536).optional(),
    onMismatch: z.enum(["inspect", "block"]).default("inspect"),
  })
  .refine((p) => (p.kind === "enum") === (p.values !== undefined), {
    error: "give values for kind enum, and only for it",
  });

/** The web application firewall on a route. */
export const wafPolicySchema = z.strictObject({
  /** off: no inspection; detect: score and report only; block: refuse at the threshold. */
  mode: z.enum(["off", "detect", "block"]).default("block"),
  /** 1 catches the unambiguous; each level up catches more and wrongly blocks more. */
  paranoia: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]).default(1),
  /** Anomaly score that refuses a request: critical 5, error 4, warning 3, notice 2. */
  threshold: integer(1, 1000).default(5),
  exclusions: z.array(wafExclusionSchema).default(() => []),
  parameters: z.array(wafParameterSchema).default(() => []),
});

export const botPolicySchema = z
  .strictObject({
    action: z.enum(["allow", "challenge", "block"]).default("block"),
    challengeAbove: integer(0, 100).default(40),
    blockAbove: integer(0, 100).default(90),
    /** Leading zero bits of the proof of work: each bit doubles the browser's work (16 ≈ 65k hashes). */
    difficultyBits: integer(4, 24).default(16),
    /** How long a solved challenge lets the browser through (a cookie bound to its IP and user agent). */
    cookieTtlSeconds: integer(60, 86_400).default(1800),
    /** Requests per minute from one client IP on this route before the rate signal counts. */
    maxRequestsPerMinute: integer(1).default(120),
    /** Check Googlebot, Bingbot, … by reverse and forward DNS; a claimed crawler that fails is blocked. */
    verifyCrawlers: z.boolean().default(true),
  })
  .refine((b) => b.blockAbove >= b.challengeAbove, {
    path: ["blockAbove"],
    error: "blockAbove must not be below challengeAbove",
  });

// A DNS server as node:dns takes it: an address, optionally with a port (`[::1]:53` for IPv6).
const dnsServer = z.string().refine((v) => {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(v) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(v);
  const address = m ? m[1] : v;
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  return ipaddr.isValid(address ?? "") && port >= 1 && port <= 65_535;
}, "expected an IP address, optionally with a port: 192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53");

/** Response headers the gateway adds when the upstream did not set them. */
export const securityHeadersSchema = z.strictObject({
  /** Strict-Transport-Security max-age in seconds, sent only over HTTPS; 0 turns it off. */
  hstsMaxAge: integer(0).default(31_536_000),
  hstsIncludeSubDomains: z.boolean().default(true),
  hstsPreload: z.boolean().default(false),
  contentTypeOptions: z.boolean().default(true),
  /** Who may frame the app, as CSP frame-ancestors; "none" and "self" are keywords. */
  frameAncestors: z.array(z.string().min(1)).default(() => ["self"]),
  referrerPolicy: z
    .enum([
      "no-referrer",
      "no-referrer-when-downgrade",
      "origin",
      "origin-when-cross-origin",
      "same-origin",
      "strict-origin",
      "strict-origin-when-cross-origin",
      "unsafe-url",
    ])
    .default("strict-origin-when-cross-origin"),
  /** Permissions-Policy value; empty sends none. */
  permissionsPolicy: z.string().default("camera=(), microphone=(), geolocation=()"),
});

/** Cross-origin requests the gateway answers for the route (preflights included). */
export const corsSchema = z.strictObject({
  /** Exact origins (`https://app.example.com`), or "*" for any origin without credentials. */
  origins: z.array(z.string().min(1)).min(1),
  methods: z.array(z.string().min(1)).default(() => ["GET", "HEAD", "POST"]),
  headers: z.array(z.string().min(1)).default(() => []),
  credentials: z.boolean().default(false),
  maxAgeSeconds: integer(0).default(600),
});

/**
 * What a rate limit counts by: the client IP, the route, or a request header (`header:x-api-key`).
 * A request without a header a limit counts by is not counted by that limit.
 */
const rateKeyPart = z.union([
  z.enum(["ip", "route"]),
  z.string().regex(/^header:[A-Za-z0-9-]+$/, { error: 'expected "ip", "route" or "header:<name>"' }),
]);

export const rateLimitSchema = z.strictObject({
  /** Names the limit in headers, events and metrics; unique within the route. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { error: "use lowercase letters, digits, - and _" }),
  by: z
    .array(rateKeyPart)
    .min(1)
    .default(() => ["ip" as const]),
  /** Requests per window; up to `limit` may come at once, then one per window/limit. */
  limit: integer(1),
  windowSeconds: integer(1),
  /** Count and report, but never refuse (to try a limit on live traffic). */
  shadow: z.boolean().default(false),
});

/** How the gateway connects to a route's https:// upstreams: the CA to trust, a client certificate (mTLS). */
export const upstreamTlsSchema = z
  .strictObject({
    /** PEM CA bundle trusted for the upstreams, instead of the public roots. */
    caFile: z.string().min(1).optional(),
    /** Client certificate and key (PEM) for upstreams that require one. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** Name sent as SNI and checked against the upstream's certificate; default: the URL's host. */
    serverName: z.string().min(1).optional(),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    error: "certFile and keyFile go together",
    path: ["certFile"],
  });

export const routeConfigSchema = z
  .strictObject({
    /** Host name the route answers for (no port); absent matches any host. */
    host: z.string().min(1).optional(),
    path: z.string().startsWith("/", { error: 'path must start with "/"' }).default("/"),
    /** One upstream, or `upstreams` for a pool served round robin. */
    upstream: httpUrl().optional(),
    upstreams: z.array(httpUrl()).min(1).optional(),
    upstreamTls: upstreamTlsSchema.optional(),
    ipRules: ipRulesSchema.prefault({}),
    securityHeaders: securityHeadersSchema.prefault({}),
    cors: corsSchema.optional(),
    rateLimits: z.array(rateLimitSchema).default(() => []),
    geo: geoRulesSchema.optional(),
    bots: botPolicySchema.optional(),
    waf: wafPolicySchema.optional(),
    /** Names the route in JIT scopes, events and metrics; default `<host or *><path>`. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9*][A-Za-z0-9._*/:-]{0,127}$/, "expected letters, digits and ._*/:-")
      .optional(),
    /** The route's environment; `prod` admits people only through a JIT grant unless standingAccess. */
    environment: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, "expected a lower-case name such as prod")
      .optional(),
    standingAccess: z.boolean().default(false),
    /** Require an identity: SSO for browsers, tokens, API keys or client certificates. */
    auth: routeAuthSchema.optional(),
    /** Who may use the route: allow/deny rules over the identity and the request (deny wins). */
    policy: routePolicySchema.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.upstream === undefined && r.upstreams === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["upstream"],
        message: "required (or upstreams: a list of URLs)",
      });
    if (r.upstream !== undefined && r.upstreams !== undefined)
      ctx.addIssue({ code: "custom", path: ["upstreams"], message: "give upstream or upstreams, not both" });
    if (
      r.upstreamTls &&
      ![r.upstream, ...(r.upstreams ?? [])].some((u) => u?.toLowerCase().startsWith("https:"))
    )
      ctx.addIssue({
        code: "custom",
        path: ["upstreamTls"],
        message: "applies to https:// upstreams, and this route has none",
      });
    const names = r.rateLimits.map((l) => l.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i)
        ctx.addIssue({
          code: "custom",
          path: ["rateLimits", i, "name"],
          message: `another limit is named ${n}`,
        });
    });
    if (r.auth !== undefined && r.policy === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["policy"],
        message:
          "a route with auth needs a policy saying who may use it, e.g. policy: { rules: [{ allow: { domains: [example.com] } }] }",
      });
    if (r.standingAccess && r.environment !== "prod")
      ctx.addIssue({
        code: "custom",
        path: ["standingAccess"],
        message: "applies to environment: prod routes only",
      });
    if (r.cors?.credentials && r.cors.origins.includes("*"))
      ctx.addIssue({
        code: "custom",
        path: ["cors", "origins"],
        message: 'credentials need exact origins, not "*"',
      });
  });

/** A certificate and its key, PEM files, for the host names it serves (`*.example.com` allowed). */
export const certificateSchema = z.strictObject({
  hosts: z.array(z.string().min(1)).min(1),
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
});

const acmeHostName = z
  .string()
  .refine((h) => !h.startsWith("*."), {
    error: "wildcard names need the DNS-01 challenge, which Rampart does not do; list the names",
  })
  .refine(
    (h) => /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i.test(h),
    {
      error: "expected a DNS host name such as shop.example.com",
    },
  );

/** Certificates from an ACME CA (RFC 8555), such as Let's Encrypt; ordering agrees to its terms. */
export const acmeSchema = z
  .strictObject({
    directoryUrl: urlWithProtocols(["https:"], "expected the CA's https:// directory URL"),
    /** Contact for expiry and policy notices from the CA. */
    email: z.email().optional(),
    /** A name gets its own certificate; a list of names shares one. */
    hosts: z.array(z.union([acmeHostName, z.array(acmeHostName).min(1)])).min(1),
    /** How the CA checks control of a name: port 80 (http-01) or the TLS port (tls-alpn-01). */
    challenge: z.enum(["http-01", "tls-alpn-01"]).default("http-01"),
    /** Renew this many days before expiry (or at two thirds of a shorter certificate's life). */
    renewDaysBefore: integer(1, 365).default(30),
    /** The account key and issued certificates (keys mode 0600); a restart reuses them. */
    stateDir: z.string().min(1).default("./.rampart/acme"),
    /** Extra CA (PEM) to trust for the directory, for a private or test CA. */
    caFile: z.string().min(1).optional(),
  })
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.hosts.forEach((entry, i) => {
      for (const h of typeof entry === "string" ? [entry] : entry) {
        if (seen.has(h.toLowerCase()))
          ctx.addIssue({ code: "custom", path: ["hosts", i], message: `${h} is listed twice` });
        seen.add(h.toLowerCase());
      }
    });
  });

/** TLS termination at the gateway; absent means plain HTTP only. */
export const tlsSchema = z
  .strictObject({
    port: integer(0, 65_535).default(7643),
    /** The first certificate also answers clients that send no or an unknown server name. */
    certificates: z.array(certificateSchema).default(() => []),
    /** Certificates ordered and renewed automatically, served after the files above. */
    acme: acmeSchema.optional(),
    minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
    /** Answer plain HTTP with a permanent redirect to HTTPS. */
    redirectHttp: z.boolean().default(true),
    /**
     * CA bundle (PEM file) that client certificates are verified against. Clients are asked for a
     * certificate, never required to send one; routes whose auth accepts client-certificate admit
     * the verified ones that identity.clientCertificates maps.
     */
    clientCaFile: z.string().min(1).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.certificates.length === 0 && !t.acme)
      ctx.addIssue({
        code: "custom",
        path: ["certificates"],
        message: "give at least one certificate, or acme: to get certificates automatically",
      });
  });

/** Where a standalone gateway sends its events, and the disk spool that covers the server's absence. */
export const controlPlaneSchema = z.strictObject({
  /** The server's base URL; `rampart gateway --control-plane URL` sets or overrides it. */
  url: httpUrl().optional(),
  /** One of the server's events.ingestTokens; best a reference such as `${env:RAMPART_INGEST_TOKEN}`. */
  token: z.string().min(32, { error: "token must be at least 32 characters" }),
  /** Batches wait here, one file each, until the server acknowledges them; refused ones in rejected/. */
  spoolDir: z.string().min(1).default("./.rampart/spool"),
  /** Past this the oldest batches are dropped, logged and reported as an events.dropped event. */
  spoolMaxBytes: integer(1024 * 1024).default(100 * 1024 * 1024),
  batchMaxEvents: integer(1, 10_000).default(500),
  batchMaxDelayMs: integer(0, 60_000).default(1000),
});

/** The edge gateway (data plane). */
export const gatewayConfigSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: integer(0, 65_535).default(7680),
  /**
   * Proxies in front of the gateway whose X-Forwarded-For is believed; anyone else's is ignored
   * and the socket address is the client.
   */
  trustedProxies: z.array(ipOrCidr()).default(() => []),
  /** Applied before every route's own rules. */
  ipRules: ipRulesSchema.prefault({}),
  tls: tlsSchema.optional(),
  geo: emptyIsAbsent(
    z
      .strictObject({
        /** A MaxMind-format country database (GeoLite2/GeoIP2 Country); default: the bundled DB-IP Lite. */
        database: z.string().min(1).optional(),
        /** Default for clients whose address has no country. */
        unknownCountries: z.enum(["allow", "deny"]).default("allow"),
      })
      .prefault({}),
  ),
  /** What routes with `bots` share: the key that signs challenges and cookies, and crawler DNS. */
  bots: emptyIsAbsent(
    z
      .strictObject({
        /**
         * Signs challenges and clearance cookies; give every replica the same one (a reference such
         * as `${env:RAMPART_BOT_SECRET}`). Absent: a random key per process, so a restart or
         * another replica challenges again.
         */
        cookieSecret: z.string().min(32, { error: "cookieSecret must be at least 32 characters" }).optional(),
        /** DNS servers for verifying crawlers; default the system's resolvers. */
        dnsServers: z.array(dnsServer).default(() => []),
      })
      .prefault({}),
  ),
  maxBodyBytes: integer(0).default(10 * 1024 * 1024),
  maxHeaderBytes: integer(1024, 1024 * 1024).default(16 * 1024),
  /**
   * Slow clients: the whole request head must arrive within clientHeaderTimeoutMs and the whole
   * request (body included) within clientRequestTimeoutMs, or the answer is 408 and the connection
   * closes (slowloris). An idle keep-alive connection closes after clientKeepAliveTimeoutMs.
   */
  clientHeaderTimeoutMs: integer(100, 600_000).default(10_000),
  clientRequestTimeoutMs: integer(100, 3_600_000).default(60_000),
  clientKeepAliveTimeoutMs: integer(100, 600_000).default(5_000),
  /**
   * Open client connections per gateway process (plain and TLS listeners each). Past it a new
   * connection is closed at once, so a connection flood cannot take the process's memory or
   * descriptors; the refusals are logged once a minute.
   */
  maxConnections: integer(1, 1_000_000).default(10_000),
  /**
   * When hot state (Redis) cannot be reached: "open" limits with a local in-memory limiter per
   * replica (each replica then admits up to the full limit); "closed" answers 503.
   */
  rateLimitWhenUnavailable: z.enum(["open", "closed"]).default("open"),
  /** Connecting to an upstream, waiting for its response headers, and gaps in its body. */
  connectTimeoutMs: integer(1).default(5_000),
  responseTimeoutMs: integer(1).default(30_000),
  /** Extra attempts on another upstream, for idempotent requests that failed before any response. */
  retries: integer(0, 5).default(1),
  /** Consecutive failures that take an upstream out of rotation, and for how long. */
  ejectAfterFailures: integer(1).default(3),
  ejectSeconds: integer(1).default(10),
  /** Refusals are counted per client, route and decision, and sent as one event each this often. */
  eventIntervalSeconds: integer(1, 3600).default(10),
  /**
   * Where `rampart gateway` serves Prometheus metrics (`GET /metrics`), apart from the proxy port so
   * clients cannot read them; with --workers, the primary serves every worker's sum. Absent: none
   * (`rampart up` puts them on the server's /metrics).
   */
  metrics: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: integer(0, 65_535).default(7681),
    })
    .optional(),
  /** Used by `rampart gateway`; `rampart up` hands events to its own server directly. */
  controlPlane: controlPlaneSchema.optional(),
});

/** The whole `rampart.yaml` (`version: 1`). */
export const rampartConfigSchema = z
  .strictObject({
    version: z.literal(1),
    environment: environmentSchema.default("dev"),
    server: emptyIsAbsent(serverConfigSchema.prefault({})),
    database: emptyIsAbsent(databaseConfigSchema.prefault({})),
    hotState: emptyIsAbsent(hotStateConfigSchema.prefault({})),
    events: emptyIsAbsent(eventsConfigSchema.prefault({})),
    audit: emptyIsAbsent(auditConfigSchema.prefault({})),
    gateway: emptyIsAbsent(gatewayConfigSchema.prefault({})),
    routes: emptyIsAbsent(z.array(routeConfigSchema).default(() => [])),
    identity: emptyIsAbsent(identityConfigSchema.prefault({})),
    rbac: emptyIsAbsent(rbacConfigSchema.prefault({})),
    jit: emptyIsAbsent(jitConfigSchema.prefault({})),
    secrets: emptyIsAbsent(secretsConfigSchema.prefault({})),
    detect: emptyIsAbsent(detectConfigSchema.prefault({})),
    alerts: emptyIsAbsent(alertsConfigSchema.prefault({})),
    incidents: emptyIsAbsent(incidentsConfigSchema.prefault({})),
    playbooks: emptyIsAbsent(playbooksConfigSchema.prefault({})),
    siem: emptyIsAbsent(siemConfigSchema.prefault({})),
    iam: emptyIsAbsent(iamConfigSchema.prefault({})),
    privacy: emptyIsAbsent(privacyConfigSchema.prefault({})),
    compliance: emptyIsAbsent(complianceConfigSchema.prefault({})),
  })
  .superRefine((c, ctx) => {
    // A route's provider must exist, and two routes must not share an id (JIT scopes name it).
    const providers = new Set(c.identity.providers.map((p) => p.id));
    const ids = new Map<string, number>();
    c.routes.forEach((r, i) => {
      const provider = r.auth?.provider;
      if (provider !== undefined && !providers.has(provider))
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "auth", "provider"],
          message: `no identity provider '${provider}' (identity.providers: ${[...providers].join(", ") || "none"})`,
        });
      const id = routeId(r);
      const prior = ids.get(id);
      if (prior !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "id"],
          message: `routes[${prior}] has the id '${id}' too; give one an id of its own`,
        });
      ids.set(id, i);
    });
  });

/** A route's id: its own, or `<host or *><path>`. */
export const routeId = (r: { id?: string | undefined; host?: string | undefined; path: string }): string =>
  r.id ?? `${r.host ?? "*"}${r.path}`;

export type RampartConfig = z.output<typeof rampartConfigSchema>;
export type Environment = z.output<typeof environmentSchema>;
export type ServerConfig = z.output<typeof serverConfigSchema>;
export type DatabaseConfig = z.output<typeof databaseConfigSchema>;
export type HotStateConfig = z.output<typeof hotStateConfigSchema>;
export type IngestToken = z.output<typeof ingestTokenSchema>;
export type EventsConfig = z.output<typeof eventsConfigSchema>;
export type AuditConfig = z.output<typeof auditConfigSchema>;
export type RouteConfig = z.output<typeof routeConfigSchema>;
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type { IdentityConfig, RouteAuth } from "../identity/schema.ts";

/** The configuration used when no file is given: every default. */
export function defaultConfig(): RampartConfig {
  return rampartConfigSchema.parse({ version: 1 });
}

import ipaddr from "ipaddr.js";
import { z } from "zod";

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

export const routeConfigSchema = z
  .strictObject({
    /** Host name the route answers for (no port); absent matches any host. */
    host: z.string().min(1).optional(),
    path: z.string().startsWith("/", { error: 'path must start with "/"' }).default("/"),
    /** One upstream, or `upstreams` for a pool served round robin. */
    upstream: httpUrl().optional(),
    upstreams: z.array(httpUrl()).min(1).optional(),
    ipRules: ipRulesSchema.prefault({}),
    securityHeaders: securityHeadersSchema.prefault({}),
    cors: corsSchema.optional(),
    rateLimits: z.array(rateLimitSchema).default(() => []),
    geo: geoRulesSchema.optional(),
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
    const names = r.rateLimits.map((l) => l.name);
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i)
        ctx.addIssue({
          code: "custom",
          path: ["rateLimits", i, "name"],
          message: `another limit is named ${n}`,
        });
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

/** TLS termination at the gateway; absent means plain HTTP only. */
export const tlsSchema = z.strictObject({
  port: integer(0, 65_535).default(7643),
  /** The first certificate also answers clients that send no or an unknown server name. */
  certificates: z.array(certificateSchema).min(1),
  minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
  /** Answer plain HTTP with a permanent redirect to HTTPS. */
  redirectHttp: z.boolean().default(true),
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
  maxBodyBytes: integer(0).default(10 * 1024 * 1024),
  maxHeaderBytes: integer(1024, 1024 * 1024).default(16 * 1024),
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
});

/** The whole `rampart.yaml` (`version: 1`). */
export const rampartConfigSchema = z.strictObject({
  version: z.literal(1),
  environment: environmentSchema.default("dev"),
  server: emptyIsAbsent(serverConfigSchema.prefault({})),
  database: emptyIsAbsent(databaseConfigSchema.prefault({})),
  hotState: emptyIsAbsent(hotStateConfigSchema.prefault({})),
  events: emptyIsAbsent(eventsConfigSchema.prefault({})),
  audit: emptyIsAbsent(auditConfigSchema.prefault({})),
  gateway: emptyIsAbsent(gatewayConfigSchema.prefault({})),
  routes: emptyIsAbsent(z.array(routeConfigSchema).default(() => [])),
});

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

/** The configuration used when no file is given: every default. */
export function defaultConfig(): RampartConfig {
  return rampartConfigSchema.parse({ version: 1 });
}

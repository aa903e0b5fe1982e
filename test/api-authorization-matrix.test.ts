// The control-plane API's authorisation matrix: every route the running server registers (read
// back from its router, so a new endpoint cannot slip past) × no credential, bad credentials and
// one real API key per built-in role. Each route's action comes from one table below; a route
// missing from it fails the suite. Requests carry invalid input on purpose: the caller must be
// refused (401, or 403 naming the missing action) before the input is looked at. Then
// cross-environment attempts: a dev person against prod secrets, prod JIT rules and a dev
// namespace's machine token. A real server on PGlite, real HTTP.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Json, startTestServer, type TestServer } from "./support/api.ts";
import { inBatches, rawRequest, registeredRoutes, type RegisteredRoute } from "./support/route-table.ts";

const run = randomBytes(4).toString("hex");
const who = (name: string) => `corp:authz-${name}-${run}`;

const ROLES = [
  "admin",
  "security-admin",
  "privacy-officer",
  "compliance-manager",
  "operator",
  "developer",
  "auditor",
] as const;
type Role = (typeof ROLES)[number];

/** How a route decides who may call it. */
type Access =
  | { kind: "rbac"; action: string }
  /** Any valid caller; what they may do is decided further in (secrets policies per path). */
  | { kind: "authenticated" }
  /** Answers without a credential; a credential that is presented must be good. */
  | { kind: "optional" }
  /** Only the gateways' ingest tokens (events.ingestTokens): no API credential works. */
  | { kind: "ingest-token" }
  /** Only the namespace's machine token (External Secrets Operator): no API credential works. */
  | { kind: "machine-token" }
  | { kind: "public"; why: string };

const rbac = (action: string): Access => ({ kind: "rbac", action });
const pub = (why: string): Access => ({ kind: "public", why });

// Built-in roles holding each action: our statement of the design, checked against the server.
// A change to builtin.ts that grants or takes away one of these must change this table too.
const SEC: Role[] = ["admin", "security-admin"];
const OPS_READ: Role[] = ["admin", "security-admin", "operator", "auditor"];
const COMPLIANCE: Role[] = ["admin", "security-admin", "compliance-manager"];
const ACTION_ROLES: Record<string, readonly Role[]> = {
  "alerts:read": OPS_READ,
  "alerts:write": SEC,
  "audit:read": ["admin", "security-admin", "privacy-officer", "compliance-manager", "operator", "auditor"],
  "audit:verify": ["admin", "security-admin", "auditor"],
  "audit:write": ["admin"],
  "compliance:evidence:review": COMPLIANCE,
  "compliance:evidence:write": COMPLIANCE,
  "compliance:exceptions:approve": COMPLIANCE,
  "compliance:exceptions:write": COMPLIANCE,
  "compliance:read": ["admin", "security-admin", "compliance-manager", "operator", "auditor"],
  "compliance:reports:read": ["admin", "security-admin", "compliance-manager", "operator", "auditor"],
  "compliance:run": COMPLIANCE,
  "detect:read": OPS_READ,
  "gateway:blocks:read": OPS_READ,
  "gateway:blocks:write": ["admin", "security-admin", "operator"],
  "gateway:routes:read": ["admin", "security-admin", "operator", "developer", "auditor"],
  "identity:api-keys:read": OPS_READ,
  "identity:api-keys:write": SEC,
  "identity:revoke": SEC,
  "identity:service-accounts:read": OPS_READ,
  "identity:sessions:read": OPS_READ,
  "incidents:read": [
    "admin",
    "security-admin",
    "privacy-officer",
    "compliance-manager",
    "operator",
    "auditor",
  ],
  "incidents:write": SEC,
  "jit:grants:read": OPS_READ,
  "jit:grants:revoke": SEC,
  "jit:requests:approve": SEC,
  "jit:requests:create": ["admin", "security-admin", "operator", "developer"],
  "jit:requests:read": ["admin", "security-admin", "operator", "developer", "auditor"],
  "playbooks:read": OPS_READ,
  "playbooks:run": SEC,
  "privacy:consent-check": ["admin", "privacy-officer"],
  "privacy:consent-write": ["admin", "privacy-officer"],
  "privacy:export": ["admin", "privacy-officer"],
  "privacy:read": ["admin", "security-admin", "privacy-officer", "compliance-manager", "operator", "auditor"],
  "privacy:write": ["admin", "privacy-officer"],
  "rbac:bindings:read": OPS_READ,
  "rbac:bindings:write": ["admin"],
  "scans:read": ["admin", "security-admin", "compliance-manager", "operator", "auditor"],
  "scans:write": SEC,
  "secrets:backup": ["admin"],
  "secrets:k8s:write": ["admin"],
  "secrets:keys:rotate": ["admin"],
  "secrets:list": ["admin", "security-admin", "auditor"],
  "secrets:restore": ["admin"],
  "secrets:unseal": ["admin"],
  "siem:read": OPS_READ,
};

const CONSOLE = "the web console's static files and redirects: the console signs in through the API";
const DOCS = "the OpenAPI description and its viewer: no data";
const DSR =
  "privacy intake for the public: rate-limited per address; status and download need the request's own tokens";

// One entry per method and URL pattern the server registers (HEAD follows its GET). Exemptions from
// RBAC are listed here with the reason; nothing else may answer without a credential.
const ROUTES: Record<string, Access> = {
  "GET /": pub(CONSOLE),
  "GET /console": pub(CONSOLE),
  "GET /console/*": pub(CONSOLE),
  "GET /api/docs": pub(DOCS),
  "GET /api/docs/": pub(DOCS),
  "GET /api/docs/json": pub(DOCS),
  "GET /api/docs/yaml": pub(DOCS),
  "GET /api/docs/static/*": pub(DOCS),
  "GET /api/docs/static/index.html": pub(DOCS),
  "GET /api/docs/static/swagger-initializer.js": pub(DOCS),
  "GET /healthz": pub("liveness probe"),
  "GET /readyz": pub("readiness probe"),
  "GET /metrics": pub("Prometheus scrape of the server (docs/operations.md); keep the port cluster-internal"),
  "GET /privacy/request": pub(DSR),
  "POST /privacy/request": pub(DSR),
  "POST /privacy/request/resend": pub(DSR),
  "POST /privacy/request/verify": pub(DSR),
  "POST /privacy/requests": pub(DSR),
  "POST /privacy/requests/:id/cancel": pub(DSR),
  "GET /privacy/requests/:id/download": pub(DSR),
  "POST /privacy/requests/:id/resend": pub(DSR),
  "GET /privacy/requests/:id/status": pub(DSR),
  "POST /privacy/requests/:id/verify": pub(DSR),

  "GET /api/v1/me": { kind: "optional" },
  "POST /api/v1/events": { kind: "ingest-token" },
  "GET /api/v1/secrets/k8s/:namespace/*": { kind: "machine-token" },

  "POST /api/v1/access/break-glass": rbac("jit:requests:create"),
  "GET /api/v1/access/grants": rbac("jit:grants:read"),
  "DELETE /api/v1/access/grants/:id": rbac("jit:grants:revoke"),
  "GET /api/v1/access/requests": rbac("jit:requests:read"),
  "POST /api/v1/access/requests": rbac("jit:requests:create"),
  "GET /api/v1/access/requests/:id": rbac("jit:requests:read"),
  "POST /api/v1/access/requests/:id/approve": rbac("jit:requests:approve"),
  "POST /api/v1/access/requests/:id/cancel": rbac("jit:requests:create"),
  "POST /api/v1/access/requests/:id/deny": rbac("jit:requests:approve"),
  "GET /api/v1/alerts/outbox": rbac("alerts:read"),
  "POST /api/v1/alerts/outbox/:id/retry": rbac("alerts:write"),
  "POST /api/v1/alerts/test": rbac("alerts:write"),
  "POST /api/v1/audit/checkpoint": rbac("audit:write"),
  "GET /api/v1/audit/entries": rbac("audit:read"),
  "POST /api/v1/audit/export": rbac("audit:read"),
  "POST /api/v1/audit/hash": rbac("audit:read"),
  "GET /api/v1/audit/logs": rbac("audit:read"),
  "GET /api/v1/audit/proof/consistency": rbac("audit:read"),
  "GET /api/v1/audit/proof/inclusion": rbac("audit:read"),
  "POST /api/v1/audit/verify": rbac("audit:verify"),
  "GET /api/v1/compliance/bundle": rbac("compliance:reports:read"),
  "GET /api/v1/compliance/catalogue": rbac("compliance:read"),
  "GET /api/v1/compliance/checks": rbac("compliance:read"),
  "GET /api/v1/compliance/checks/:id": rbac("compliance:read"),
  "GET /api/v1/compliance/evidence": rbac("compliance:read"),
  "POST /api/v1/compliance/evidence": rbac("compliance:evidence:write"),
  "GET /api/v1/compliance/evidence/:id": rbac("compliance:read"),
  "POST /api/v1/compliance/evidence/:id/review": rbac("compliance:evidence:review"),
  "GET /api/v1/compliance/exceptions": rbac("compliance:read"),
  "POST /api/v1/compliance/exceptions": rbac("compliance:exceptions:write"),
  "POST /api/v1/compliance/exceptions/:id/approve": rbac("compliance:exceptions:approve"),
  "POST /api/v1/compliance/exceptions/:id/reject": rbac("compliance:exceptions:write"),
  "POST /api/v1/compliance/exceptions/:id/revoke": rbac("compliance:exceptions:write"),
  "GET /api/v1/compliance/frameworks/:id/report": rbac("compliance:reports:read"),
  "GET /api/v1/compliance/oscal": rbac("compliance:reports:read"),
  "POST /api/v1/compliance/run": rbac("compliance:run"),
  "GET /api/v1/compliance/status": rbac("compliance:read"),
  "GET /api/v1/detect/rules": rbac("detect:read"),
  "GET /api/v1/gateway/blocks": rbac("gateway:blocks:read"),
  "POST /api/v1/gateway/blocks": rbac("gateway:blocks:write"),
  "DELETE /api/v1/gateway/blocks/:target": rbac("gateway:blocks:write"),
  "GET /api/v1/gateway/decisions": rbac("gateway:blocks:read"),
  "GET /api/v1/gateway/lockdowns": rbac("gateway:blocks:read"),
  "POST /api/v1/gateway/lockdowns": rbac("gateway:blocks:write"),
  "DELETE /api/v1/gateway/lockdowns/:route": rbac("gateway:blocks:write"),
  "GET /api/v1/gateway/routes": rbac("gateway:routes:read"),
  "GET /api/v1/gateway/waf/proposals": rbac("gateway:blocks:read"),
  "GET /api/v1/identity/api-keys": rbac("identity:api-keys:read"),
  "POST /api/v1/identity/api-keys": rbac("identity:api-keys:write"),
  "DELETE /api/v1/identity/api-keys/:id": rbac("identity:api-keys:write"),
  "POST /api/v1/identity/revocations": rbac("identity:revoke"),
  "GET /api/v1/identity/service-accounts": rbac("identity:service-accounts:read"),
  "GET /api/v1/identity/sessions": rbac("identity:sessions:read"),
  "GET /api/v1/incidents": rbac("incidents:read"),
  "POST /api/v1/incidents": rbac("incidents:write"),
  "GET /api/v1/incidents/:id": rbac("incidents:read"),
  "POST /api/v1/incidents/:id/ack": rbac("incidents:write"),
  "POST /api/v1/incidents/:id/assign": rbac("incidents:write"),
  "POST /api/v1/incidents/:id/evidence": rbac("incidents:write"),
  "POST /api/v1/incidents/:id/notes": rbac("incidents:write"),
  "POST /api/v1/incidents/:id/priority": rbac("incidents:write"),
  "POST /api/v1/incidents/:id/review": rbac("incidents:write"),
  "POST /api/v1/incidents/:id/transition": rbac("incidents:write"),
  "GET /api/v1/incidents/report": rbac("incidents:read"),
  "GET /api/v1/playbook-runs": rbac("playbooks:read"),
  "GET /api/v1/playbook-runs/:run": rbac("playbooks:read"),
  "POST /api/v1/playbook-runs/:run/steps/:step/check": rbac("playbooks:run"),
  "GET /api/v1/playbooks": rbac("playbooks:read"),
  "GET /api/v1/playbooks/:id": rbac("playbooks:read"),
  "POST /api/v1/playbooks/:id/run": rbac("playbooks:run"),
  "POST /api/v1/privacy/audit-subjects/erase": rbac("privacy:write"),
  "GET /api/v1/privacy/breaches": rbac("privacy:read"),
  "POST /api/v1/privacy/breaches": rbac("privacy:write"),
  "GET /api/v1/privacy/breaches/:id": rbac("privacy:read"),
  "PATCH /api/v1/privacy/breaches/:id": rbac("privacy:write"),
  "GET /api/v1/privacy/breaches/:id/drafts": rbac("privacy:read"),
  "POST /api/v1/privacy/breaches/:id/notifications": rbac("privacy:write"),
  "GET /api/v1/privacy/consent-stats": rbac("privacy:read"),
  "POST /api/v1/privacy/consents": rbac("privacy:consent-write"),
  "GET /api/v1/privacy/consents/:subject": rbac("privacy:read"),
  "GET /api/v1/privacy/consents/:subject/proof": rbac("privacy:read"),
  "POST /api/v1/privacy/consents/:subject/withdraw-all": rbac("privacy:consent-write"),
  "GET /api/v1/privacy/consents/check": rbac("privacy:consent-check"),
  "GET /api/v1/privacy/dpias": rbac("privacy:read"),
  "POST /api/v1/privacy/dpias": rbac("privacy:write"),
  "DELETE /api/v1/privacy/dpias/:key": rbac("privacy:write"),
  "GET /api/v1/privacy/dpias/:key": rbac("privacy:read"),
  "PUT /api/v1/privacy/dpias/:key": rbac("privacy:write"),
  "POST /api/v1/privacy/dpias/:key/approve": rbac("privacy:write"),
  "GET /api/v1/privacy/dpias/findings": rbac("privacy:read"),
  "GET /api/v1/privacy/map": rbac("privacy:read"),
  "GET /api/v1/privacy/processors": rbac("privacy:read"),
  "POST /api/v1/privacy/processors": rbac("privacy:write"),
  "DELETE /api/v1/privacy/processors/:key": rbac("privacy:write"),
  "GET /api/v1/privacy/processors/:key": rbac("privacy:read"),
  "PUT /api/v1/privacy/processors/:key": rbac("privacy:write"),
  "GET /api/v1/privacy/processors/findings": rbac("privacy:read"),
  "GET /api/v1/privacy/requests": rbac("privacy:read"),
  "POST /api/v1/privacy/requests": rbac("privacy:write"),
  "GET /api/v1/privacy/requests/:id": rbac("privacy:read"),
  "POST /api/v1/privacy/requests/:id/approve": rbac("privacy:write"),
  "POST /api/v1/privacy/requests/:id/complete": rbac("privacy:write"),
  "GET /api/v1/privacy/requests/:id/export": rbac("privacy:export"),
  "POST /api/v1/privacy/requests/:id/extend": rbac("privacy:write"),
  "POST /api/v1/privacy/requests/:id/reject": rbac("privacy:write"),
  "POST /api/v1/privacy/requests/:id/retry": rbac("privacy:write"),
  "POST /api/v1/privacy/retention/run": rbac("privacy:write"),
  "GET /api/v1/privacy/ropa": rbac("privacy:read"),
  "GET /api/v1/rbac/bindings": rbac("rbac:bindings:read"),
  "POST /api/v1/rbac/bindings": rbac("rbac:bindings:write"),
  "DELETE /api/v1/rbac/bindings/:id": rbac("rbac:bindings:write"),
  "GET /api/v1/scans": rbac("scans:read"),
  "POST /api/v1/scans": rbac("scans:write"),
  "GET /api/v1/scans/findings": rbac("scans:read"),
  "GET /api/v1/scans/items": rbac("scans:read"),
  "GET /api/v1/secrets/backup": rbac("secrets:backup"),
  "POST /api/v1/secrets/keys/rotate": rbac("secrets:keys:rotate"),
  "DELETE /api/v1/secrets/kubernetes/tokens/:namespace": rbac("secrets:k8s:write"),
  "POST /api/v1/secrets/kubernetes/tokens/:namespace": rbac("secrets:k8s:write"),
  "GET /api/v1/secrets/readable": rbac("secrets:list"),
  "GET /api/v1/secrets/readers/*": rbac("audit:read"),
  "POST /api/v1/secrets/restore": rbac("secrets:restore"),
  "POST /api/v1/secrets/unseal": rbac("secrets:unseal"),
  "GET /api/v1/siem/exporters": rbac("siem:read"),
  "GET /api/v1/secrets/status": { kind: "authenticated" },
  "GET /api/v1/secrets/capabilities/*": { kind: "authenticated" },
  "GET /api/v1/secrets/data/*": { kind: "authenticated" },
  "PUT /api/v1/secrets/data/*": { kind: "authenticated" },
  "POST /api/v1/secrets/delete/*": { kind: "authenticated" },
  "POST /api/v1/secrets/destroy/*": { kind: "authenticated" },
  "GET /api/v1/secrets/diff/*": { kind: "authenticated" },
  "GET /api/v1/secrets/list/*": { kind: "authenticated" },
  "GET /api/v1/secrets/metadata/*": { kind: "authenticated" },
  "PATCH /api/v1/secrets/metadata/*": { kind: "authenticated" },
  "POST /api/v1/secrets/revoke/*": { kind: "authenticated" },
  "POST /api/v1/secrets/rollback/*": { kind: "authenticated" },
  "POST /api/v1/secrets/rotate/*": { kind: "authenticated" },
  "POST /api/v1/secrets/undelete/*": { kind: "authenticated" },
};

/**
 * Routes that look at their input before the caller: a bad id answers 400 even without a
 * credential. Not a bypass (a well-formed id is still refused with 401, checked below), but the
 * wrong order: validation errors are told to strangers. Fix the route, then remove it here.
 */
const VALIDATES_FIRST: Record<string, string> = {};

/** Decisions that need a person: the admin token holds the action yet is refused, by design. */
const PERSON_ONLY = new Set([
  "POST /api/v1/access/requests/:id/approve",
  "POST /api/v1/access/requests/:id/deny",
]);

// Invalid on purpose, everywhere: a probe key no strict schema accepts, ids of no valid shape.
const PROBE = "authzMatrixProbe";
const BAD_PARAM = "x";
/** Well-formed values for the routes in VALIDATES_FIRST, to show authentication still holds there. */
const GOOD_PARAMS: Record<string, string> = { id: `dsr_${"a".repeat(24)}` };

const urlFor = (pattern: string, params: Record<string, string> = {}) =>
  pattern
    .replace(/:([A-Za-z]+)/g, (_m, name: string) => params[name] ?? BAD_PARAM)
    .replace(/\*$/, "matrix/probe/x");
const withBody = (method: string) => ["POST", "PUT", "PATCH", "DELETE"].includes(method);

let t: TestServer;
const keys = {} as Record<Role, string>;
const badCredentials: Record<string, Record<string, string>> = {};

/** The secrets, JIT and namespace setup the cross-environment part uses. */
const devAlice = who("dev-alice"); // developer, dev secrets, may request dev access
const devLead = who("dev-lead"); // security-admin by RBAC, approves dev access only
const prodPat = who("prod-pat"); // operator, prod secrets, may request prod access
const prodLead = who("prod-lead"); // security-admin by RBAC, approves prod access
const prodValue = `prod-only-${randomBytes(12).toString("hex")}`;
const devValue = `dev-only-${randomBytes(12).toString("hex")}`;

beforeAll(async () => {
  t = await startTestServer({
    name: "authz-matrix",
    config: {
      routes: [
        { id: "dev-db", path: "/dev-db", upstream: "http://127.0.0.1:9", environment: "dev" },
        { id: "prod-db", path: "/prod-db", upstream: "http://127.0.0.1:9", environment: "prod" },
      ],
      rbac: {
        bindings: [
          ...ROLES.map((role) => ({ id: `matrix-${role}`, role, users: [who(role)] })),
          { id: "dev-people", role: "developer", users: [devAlice] },
          { id: "prod-people", role: "operator", users: [prodPat] },
          { id: "approvers", role: "security-admin", users: [devLead, prodLead] },
        ],
      },
      jit: {
        roles: [
          {
            role: "operator",
            environments: ["dev"],
            requesters: { users: [devAlice] },
            approvers: { users: [devLead] },
            approvals: 1,
            maxDurationMinutes: 120,
          },
          {
            role: "operator",
            environments: ["prod"],
            requesters: { users: [prodPat] },
            approvers: { users: [prodLead] },
            approvals: 1,
            maxDurationMinutes: 60,
          },
        ],
        breakGlass: { groups: ["oncall"], roles: ["operator"] },
      },
      secrets: {
        policies: [
          {
            name: "dev team",
            paths: ["/dev/**"],
            capabilities: ["read", "list", "create", "update", "delete"],
            users: [devAlice],
          },
          {
            name: "prod team",
            paths: ["/prod/**"],
            capabilities: ["read", "list", "create", "update", "delete", "rotate"],
            users: [prodPat],
          },
        ],
        kubernetes: {
          namespaces: [
            { namespace: "dev-apps", paths: ["/dev/**"] },
            { namespace: "prod-apps", paths: ["/prod/**"] },
          ],
        },
      },
    },
  });
  await Promise.all(
    ROLES.map(async (role) => {
      keys[role] = (await t.apiKeyFor(who(role))).key;
    }),
  );
  // A key that was good: an admin's, revoked before use.
  const revoked = await t.apiKeyFor(who("admin"));
  expect((await t.call("DELETE", `/api/v1/identity/api-keys/${revoked.id}`, t.admin)).status).toBe(200);
  badCredentials["unknown API key"] = {
    authorization: `Bearer rpk_${randomBytes(24).toString("base64url")}`,
  };
  badCredentials["garbage bearer"] = { authorization: `Bearer ${randomBytes(24).toString("hex")}` };
  badCredentials["revoked admin API key"] = { authorization: `Bearer ${revoked.key}` };
  // The API accepts no assertions here (server.assertionAudience unset); a forged one must not pass either.
  badCredentials["unsigned assertion"] = { "x-rampart-assertion": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." };
}, 60_000);

afterAll(async () => {
  await t?.stop();
});

const key = (r: RegisteredRoute) => `${r.method === "HEAD" ? "GET" : r.method} ${r.url}`;

describe("every registered route has an expected access", () => {
  test("the route table covers exactly the routes the server registers", () => {
    const routes = registeredRoutes(t.server.app);
    expect(routes.length).toBeGreaterThan(150);
    const registered = new Set(routes.map(key));
    const missing = [...registered].filter((k) => !(k in ROUTES));
    const stale = Object.keys(ROUTES).filter((k) => !registered.has(k));
    expect(missing, "routes with no expected access: add them to ROUTES").toEqual([]);
    expect(stale, "ROUTES names routes the server does not register").toEqual([]);
    for (const [k, a] of Object.entries(ROUTES))
      if (a.kind === "rbac")
        expect(ACTION_ROLES[a.action], `${k}: ${a.action} has no roles entry`).toBeDefined();
  });
});

interface Outcome {
  route: string;
  who: string;
  status: number;
  body: string;
}

async function probe(
  r: RegisteredRoute,
  headers: Record<string, string>,
  who: string,
  params = {},
): Promise<Outcome> {
  const path = `${urlFor(r.url, params)}?${PROBE}=1`;
  const res = await rawRequest(
    t.url,
    r.method,
    path,
    headers,
    withBody(r.method) ? { [PROBE]: true } : undefined,
  );
  return { route: `${r.method} ${r.url}`, who, status: res.status, body: res.body };
}

const messageOf = (o: Outcome): string => {
  try {
    return String((JSON.parse(o.body) as Json).message ?? "");
  } catch {
    return "";
  }
};

/**
 * The "built-in roles allowed" column of docs/api-access.md, for rows naming one action in words
 * the test can read (a list of roles, `all`, `all but …`); the route cells are prose, so only the
 * roles are compared.
 */
function documentedRoles(): Map<string, Role[]> {
  const text = readFileSync(new URL("../docs/api-access.md", import.meta.url), "utf8");
  const table = text.split("## Permission per route")[1]?.split("\n## ")[0] ?? "";
  const out = new Map<string, Role[]>();
  for (const line of table.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5) continue;
    const actions = [...(cells[2] ?? "").matchAll(/`([a-z-]+(?::[a-z-]+)+)`/g)].map((m) => m[1] as string);
    if (actions.length !== 1) continue;
    const said = (cells[3] ?? "").replace(/\(.*?\)/g, "").trim();
    const named = (s: string) =>
      s
        .split(/,| and /)
        .map((x) => x.trim())
        .filter(Boolean);
    let roles: string[] | undefined;
    if (said === "all") roles = [...ROLES];
    else if (said.startsWith("all but ")) {
      const but = named(said.slice("all but ".length));
      roles = ROLES.filter((r) => !but.includes(r));
    } else if (named(said).every((r) => (ROLES as readonly string[]).includes(r))) roles = named(said);
    if (roles) out.set(actions[0] as string, roles.sort() as Role[]);
  }
  return out;
}

/** Rows of docs/api-access.md whose roles column disagrees with builtin.ts today: fix the docs, then remove. */
const KNOWN_DOC_DRIFT: string[] = [];

describe("the docs agree with the server", () => {
  test("docs/api-access.md names the roles that hold each action", () => {
    const docs = documentedRoles();
    expect(docs.size).toBeGreaterThan(20);
    const drift = [...docs]
      .filter(
        ([action, roles]) =>
          ACTION_ROLES[action] && roles.join() !== [...(ACTION_ROLES[action] ?? [])].sort().join(),
      )
      .map(
        ([action, roles]) =>
          `${action}: docs say ${roles.join(", ")}; builtin.ts grants ${[...(ACTION_ROLES[action] ?? [])].sort().join(", ")}`,
      );
    expect(drift).toEqual(KNOWN_DOC_DRIFT);
  });

  test("every action a route checks is documented", () => {
    const dir = new URL("../docs/", import.meta.url);
    const docs = readdirSync(dir)
      .filter((f) => f.endsWith(".md"))
      .map((f) => readFileSync(new URL(f, dir), "utf8"))
      .join("\n");
    const actions = [...new Set(Object.values(ROUTES).flatMap((a) => (a.kind === "rbac" ? [a.action] : [])))];
    expect(actions.filter((a) => !docs.includes(`\`${a}\``)).sort()).toEqual([]);
  });
});

describe("the matrix: route × credential", () => {
  test("nobody and bad credentials are refused with 401 before any input is read", async () => {
    const routes = registeredRoutes(t.server.app).filter((r) => {
      const a = ROUTES[key(r)];
      return a !== undefined && a.kind !== "public" && a.kind !== "optional";
    });
    const callers: Record<string, Record<string, string>> = { "no credential": {}, ...badCredentials };
    const tasks = routes.flatMap((r) =>
      Object.entries(callers).map(
        ([name, headers]) =>
          () =>
            probe(r, headers, name),
      ),
    );
    const outcomes = await inBatches(tasks);
    const wrong = outcomes.filter(
      (o) => o.status !== 401 && !(o.route.replace(/^HEAD /, "GET ") in VALIDATES_FIRST),
    );
    expect(wrong.map((o) => `${o.route} as ${o.who}: ${o.status} ${o.body.slice(0, 160)}`)).toEqual([]);
    // The listed ones must still refuse a well-formed request, and never let one through.
    const first = outcomes.filter((o) => o.route.replace(/^HEAD /, "GET ") in VALIDATES_FIRST);
    expect(
      first.filter((o) => o.status < 400 || o.status >= 500).map((o) => `${o.route} ${o.status}`),
    ).toEqual([]);
    const fixed = await inBatches(
      routes
        .filter((r) => key(r) in VALIDATES_FIRST)
        .map((r) => () => probe(r, {}, "no credential, good id", GOOD_PARAMS)),
    );
    expect(fixed.filter((o) => o.status !== 401).map((o) => `${o.route} ${o.status}`)).toEqual([]);
    console.info(
      `authorisation matrix: ${outcomes.length} unauthenticated requests over ${routes.length} routes`,
    );
  }, 60_000);

  test("each built-in role: 403 naming the action without it, past authorisation with it", async () => {
    const routes = registeredRoutes(t.server.app).filter((r) => {
      const a = ROUTES[key(r)];
      return a !== undefined && a.kind !== "public";
    });
    // Where the id is read first, a well-formed one lets the role check show.
    const tasks = routes.flatMap((r) =>
      ROLES.map((role) => async () => ({
        role,
        access: ROUTES[key(r)] as Access,
        ...(await probe(
          r,
          { authorization: `Bearer ${keys[role]}` },
          role,
          key(r) in VALIDATES_FIRST ? GOOD_PARAMS : {},
        )),
      })),
    );
    const outcomes = await inBatches(tasks);
    const problems: string[] = [];
    for (const o of outcomes) {
      const a = o.access;
      const line = `${o.route} as ${o.role}: ${o.status} ${o.body.slice(0, 160)}`;
      if (a.kind === "ingest-token" || a.kind === "machine-token") {
        if (o.status !== 401) problems.push(`${line} (only a ${a.kind} may call it)`);
      } else if (a.kind === "authenticated" || a.kind === "optional") {
        if (o.status === 401 || o.status >= 500) problems.push(`${line} (a valid caller)`);
      } else if (a.kind === "rbac") {
        const allowed = (ACTION_ROLES[a.action] ?? []).includes(o.role);
        if (allowed && (o.status === 401 || o.status === 403 || o.status >= 500))
          problems.push(`${line} (holds ${a.action})`);
        if (!allowed && o.status !== 403) problems.push(`${line} (lacks ${a.action}: expected 403)`);
        if (
          !allowed &&
          !o.route.startsWith("HEAD ") &&
          !messageOf(o).includes(`missing permission ${a.action} `)
        )
          problems.push(`${line} (the refusal must name ${a.action})`);
      }
    }
    expect(problems).toEqual([]);
    console.info(
      `authorisation matrix: ${outcomes.length} role requests over ${routes.length} routes × ${ROLES.length} roles`,
    );
  }, 60_000);

  test("the admin token passes every RBAC route; public routes answer without a credential", async () => {
    const routes = registeredRoutes(t.server.app);
    const outcomes = await inBatches(
      routes.map((r) => async () => {
        const a = ROUTES[key(r)] as Access;
        const headers: Record<string, string> =
          a.kind === "public" || a.kind === "optional" ? {} : { authorization: `Bearer ${t.admin}` };
        return { access: a, ...(await probe(r, headers, a.kind === "public" ? "nobody" : "admin token")) };
      }),
    );
    const problems = outcomes
      .filter((o) =>
        o.access.kind === "ingest-token" || o.access.kind === "machine-token"
          ? o.status !== 401
          : PERSON_ONLY.has(o.route)
            ? o.status !== 403 || !o.body.includes("is not a person")
            : o.status === 401 || o.status === 403 || o.status >= 500,
      )
      .map((o) => `${o.route} as ${o.who}: ${o.status} ${o.body.slice(0, 160)}`);
    expect(problems).toEqual([]);
  }, 60_000);

  test("GET /api/v1/me: nobody is signed out, a bad credential is 401, a role sees its roles", async () => {
    expect((await rawRequest(t.url, "GET", "/api/v1/me")).body).toContain('"signedIn":false');
    for (const headers of Object.values(badCredentials))
      expect((await rawRequest(t.url, "GET", "/api/v1/me", headers)).status).toBe(401);
    const me = await t.call("GET", "/api/v1/me?can=secrets:read,audit:read", keys.auditor);
    expect(me.json).toMatchObject({
      signedIn: true,
      roles: ["auditor"],
      can: { "secrets:read": false, "audit:read": true },
    });
  });
});

describe("cross-environment: a dev person against prod", () => {
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  let alice = "";
  let pat = "";
  let devLeadKey = "";
  let prodLeadKey = "";

  beforeAll(async () => {
    const [a, p, d, l] = await Promise.all(
      [devAlice, prodPat, devLead, prodLead].map(async (s) => (await t.apiKeyFor(s)).key),
    );
    [alice, pat, devLeadKey, prodLeadKey] = [a ?? "", p ?? "", d ?? "", l ?? ""];
    for (const [path, value] of [
      ["/prod/api/db", prodValue],
      ["/dev/api/db", devValue],
    ] as const) {
      const put = await t.call("PUT", `/api/v1/secrets/data${path}`, t.admin, { data: { password: value } });
      expect(put.status, JSON.stringify(put.json)).toBe(200);
    }
  });

  test("secrets: dev reads dev, never prod, by any operation or spelling of the path", async () => {
    // Controls: each side reads its own.
    const own = await rawRequest(t.url, "GET", "/api/v1/secrets/data/dev/api/db", as(alice));
    expect(own.status).toBe(200);
    expect(own.body).toContain(devValue);
    const theirs = await rawRequest(t.url, "GET", "/api/v1/secrets/data/prod/api/db", as(pat));
    expect(theirs.body).toContain(prodValue);

    const attempts: Array<[string, string, unknown?]> = [
      ["GET", "/api/v1/secrets/data/prod/api/db"],
      ["GET", "/api/v1/secrets/data/prod/api/db?version=1"],
      ["PUT", "/api/v1/secrets/data/prod/api/db", { data: { password: "from-dev" } }],
      ["PUT", "/api/v1/secrets/data/prod/api/new", { data: { k: "from-dev" }, cas: 0 }],
      ["GET", "/api/v1/secrets/metadata/prod/api/db"],
      ["PATCH", "/api/v1/secrets/metadata/prod/api/db", { owner: "dev" }],
      ["GET", "/api/v1/secrets/list/prod/"],
      ["GET", "/api/v1/secrets/list/prod/api/"],
      ["POST", "/api/v1/secrets/delete/prod/api/db", {}],
      ["POST", "/api/v1/secrets/undelete/prod/api/db", { versions: [1] }],
      ["POST", "/api/v1/secrets/destroy/prod/api/db", { versions: [1] }],
      ["POST", "/api/v1/secrets/rollback/prod/api/db", { version: 1 }],
      ["POST", "/api/v1/secrets/revoke/prod/api/db", { version: 1, reason: "from dev" }],
      ["POST", "/api/v1/secrets/rotate/prod/api/db"],
      ["GET", "/api/v1/secrets/diff/prod/api/db?from=1&to=1"],
      ["GET", "/api/v1/secrets/readers/prod/api/db?since=2020-01-01T00:00:00Z"],
      ["GET", `/api/v1/secrets/readable?kind=user&subject=${encodeURIComponent(prodPat)}`],
      ["GET", "/api/v1/secrets/backup"],
      // Spellings that a careless normaliser would turn into /prod/api/db after the policy check.
      ["GET", "/api/v1/secrets/data/dev/../prod/api/db"],
      ["GET", "/api/v1/secrets/data/dev/%2e%2e/prod/api/db"],
      ["GET", "/api/v1/secrets/data/dev%2f..%2fprod%2fapi%2fdb"],
      ["GET", "/api/v1/secrets/data/dev/api/..%2f..%2fprod/api/db"],
      ["GET", "/api/v1/secrets/data//prod/api/db"],
      ["GET", "/api/v1/secrets/data/prod/api/db/"],
      ["GET", "/api/v1/secrets/data/prod/api/./db"],
      ["GET", "/api/v1/secrets/data/prod%2fapi%2fdb"],
      ["GET", "/api/v1/secrets/data/%70rod/api/db"],
      ["GET", "/api/v1/secrets/list/dev/../prod/"],
    ];
    const results = await inBatches(
      attempts.map(([method, path, body]) => async () => ({
        attempt: `${method} ${path}`,
        ...(await rawRequest(t.url, method, path, as(alice), body)),
      })),
    );
    // A listing answers with what the caller may list: nothing under prod.
    const isList = (r: { attempt: string }) => r.attempt.startsWith("GET /api/v1/secrets/list/");
    const leaks = results.filter(
      (r) =>
        r.body.includes(prodValue) ||
        (isList(r)
          ? r.status < 300 && JSON.stringify(JSON.parse(r.body)) !== '{"paths":[]}'
          : r.status < 300),
    );
    expect(leaks.map((r) => `${r.attempt}: ${r.status} ${r.body.slice(0, 200)}`)).toEqual([]);
    // Refused by policy (403) or as a bad path (400, 404); never an error of the server.
    expect(
      results
        .filter((r) => !isList(r) && ![400, 403, 404].includes(r.status))
        .map((r) => `${r.attempt}: ${r.status}`),
    ).toEqual([]);

    // The prod secret is unchanged and still readable by its owners.
    const after = await rawRequest(t.url, "GET", "/api/v1/secrets/data/prod/api/db", as(pat));
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toMatchObject({ version: 1, data: { password: prodValue } });
    const caps = await t.call("GET", "/api/v1/secrets/capabilities/prod/api/db", alice);
    expect(caps.json).toMatchObject({ capabilities: [] });
    const listed = await t.call("GET", "/api/v1/secrets/list/", alice);
    expect(JSON.stringify(listed.json)).not.toContain("/prod/");
    // And the other way round: prod people have no standing access to dev.
    expect((await rawRequest(t.url, "GET", "/api/v1/secrets/data/dev/api/db", as(pat))).status).toBe(403);
  });

  test("secrets for Kubernetes: a dev namespace's machine token reads dev only", async () => {
    const issued = await t.call("POST", "/api/v1/secrets/kubernetes/tokens/dev-apps", t.admin, {});
    expect(issued.status, JSON.stringify(issued.json)).toBe(201);
    const token = String(issued.json.token);
    const own = await rawRequest(t.url, "GET", "/api/v1/secrets/k8s/dev-apps/dev/api/db", as(token));
    expect(own.status).toBe(200);
    expect(own.body).toContain(devValue);
    const attempts = [
      "/api/v1/secrets/k8s/dev-apps/prod/api/db",
      "/api/v1/secrets/k8s/dev-apps/dev/../prod/api/db",
      "/api/v1/secrets/k8s/dev-apps/dev/%2e%2e/prod/api/db",
      "/api/v1/secrets/k8s/dev-apps//prod/api/db",
      // The dev token presented as another namespace's.
      "/api/v1/secrets/k8s/prod-apps/prod/api/db",
    ];
    const results = await Promise.all(attempts.map((p) => rawRequest(t.url, "GET", p, as(token))));
    results.forEach((r, i) => {
      expect(r.status, `${attempts[i]}: ${r.body}`).toBeGreaterThanOrEqual(400);
      expect(r.body).not.toContain(prodValue);
    });
    expect(results[4]?.status).toBe(401);
    // An API key of the prod owner is no machine token.
    expect(
      (await rawRequest(t.url, "GET", "/api/v1/secrets/k8s/prod-apps/prod/api/db", as(pat))).status,
    ).toBe(401);
  });

  test("JIT: dev may not request prod (by environment or by a prod route), nor decide prod requests", async () => {
    const ask = (token: string, scope: { kind: string; id: string }) =>
      t.call("POST", "/api/v1/access/requests", token, {
        role: "operator",
        scope,
        justification: "authorisation matrix",
        durationMinutes: 30,
      });
    // Control: dev asks for dev, the dev lead approves.
    const devReq = await ask(alice, { kind: "environment", id: "dev" });
    expect(devReq.status, JSON.stringify(devReq.json)).toBe(201);

    expect((await ask(alice, { kind: "environment", id: "prod" })).status).toBe(403);
    // A prod route is prod: the prod rule applies, and alice is not among its requesters.
    expect((await ask(alice, { kind: "route", id: "prod-db" })).status).toBe(403);

    const prodReq = await ask(pat, { kind: "environment", id: "prod" });
    expect(prodReq.status, JSON.stringify(prodReq.json)).toBe(201);
    const id = String(prodReq.json.id);

    // The dev approver holds jit:requests:approve (security-admin) but the prod rule does not name them.
    for (const decision of ["approve", "deny"])
      expect((await t.call("POST", `/api/v1/access/requests/${id}/${decision}`, devLeadKey, {})).status).toBe(
        403,
      );
    const pending = await t.call("GET", "/api/v1/access/requests?pending=true", devLeadKey);
    expect(JSON.stringify(pending.json)).not.toContain(id);
    // Nor may the dev requester decide, withdraw it or break the glass into prod.
    expect((await t.call("POST", `/api/v1/access/requests/${id}/approve`, alice, {})).status).toBe(403);
    expect([403, 404]).toContain(
      (await t.call("POST", `/api/v1/access/requests/${id}/cancel`, alice)).status,
    );
    const glass = await t.call("POST", "/api/v1/access/break-glass", alice, {
      role: "operator",
      scope: { kind: "environment", id: "prod" },
      reason: "authorisation matrix",
    });
    // Break-glass is for the groups in jit.breakGlass.groups; an API key carries none.
    expect(glass.status, JSON.stringify(glass.json)).toBe(403);
    expect((await t.call("GET", `/api/v1/access/requests/${id}`, t.admin)).json).toMatchObject({
      status: "pending",
    });

    // Controls: the named approvers decide their own environment.
    const devOk = await t.call(
      "POST",
      `/api/v1/access/requests/${String(devReq.json.id)}/approve`,
      devLeadKey,
      {},
    );
    expect(devOk.status, JSON.stringify(devOk.json)).toBe(200);
    const prodOk = await t.call("POST", `/api/v1/access/requests/${id}/approve`, prodLeadKey, {});
    expect(prodOk.status, JSON.stringify(prodOk.json)).toBe(200);
    // A developer cannot end someone else's prod grant.
    const grants = await t.call(
      "GET",
      `/api/v1/access/grants?subject=${encodeURIComponent(prodPat)}`,
      t.admin,
    );
    const grant = (grants.json.grants as Array<{ id: string }>)[0];
    expect(grant).toBeDefined();
    const revoke = await t.call("DELETE", `/api/v1/access/grants/${grant?.id}`, alice, {
      reason: "from dev",
    });
    expect(revoke.status).toBe(403);
    expect(revoke.json.message).toContain("missing permission jit:grants:revoke");
  });
});

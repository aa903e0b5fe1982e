// The identity views the console's Access page reads, over HTTP against a real server: service
// accounts as configured (roles, scopes, how many secrets and certificate mappings, never a secret
// or its hash) and a subject's SSO sessions from the real session store (never a token), with RBAC
// on both and a clear 400 when the subject is missing. Revoking the subject empties the list.
import { afterAll, beforeAll, expect, test } from "vitest";
import { hashClientSecret } from "../src/identity/service-auth/index.ts";
import { createSessionStore, type SessionStore } from "../src/identity/sessions/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";

const clientSecret = "console-api-client-secret-value-0123456789";
const accessToken = "sso-access-token-that-must-not-leak";
const refreshToken = "sso-refresh-token-that-must-not-leak";

let t: TestServer;
let auditor: string;
let developer: string;
let sessions: SessionStore;

beforeAll(async () => {
  t = await startTestServer({
    name: "identity-console-api",
    config: {
      identity: {
        tokens: { secret: "identity-console-api-secret-0123456789abcdef" },
        serviceAccounts: [
          {
            name: "deployer",
            description: "Ships releases",
            roles: ["operator"],
            scopes: ["deploy", "rollback"],
            secretHashes: [hashClientSecret(clientSecret)],
          },
          { name: "reporter", roles: [], scopes: [] },
        ],
        clientCertificates: [{ san: "URI:spiffe://prod/deployer", service: "deployer" }],
      },
      rbac: {
        bindings: [
          { role: "auditor", users: ["corp:aud"] },
          { role: "developer", users: ["corp:dev"] },
        ],
      },
    },
  });
  auditor = (await t.apiKeyFor("corp:aud")).key;
  developer = (await t.apiKeyFor("corp:dev")).key;
  // The same store the gateways write sessions into, over the server's own hot state.
  sessions = createSessionStore({ hotState: t.server.runtime.hot });
}, 60_000);

afterAll(async () => {
  await sessions?.close();
  await t?.stop();
});

test("service accounts: names, roles, scopes and credential counts; never a secret or its hash", async () => {
  const r = await t.call("GET", "/api/v1/identity/service-accounts", auditor);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  expect(r.json.serviceAccounts).toEqual([
    {
      name: "deployer",
      description: "Ships releases",
      roles: ["operator"],
      scopes: ["deploy", "rollback"],
      clientSecrets: 1,
      certificates: 1,
    },
    { name: "reporter", description: "", roles: [], scopes: [], clientSecrets: 0, certificates: 0 },
  ]);
  const text = JSON.stringify(r.json);
  expect(text).not.toContain(clientSecret);
  expect(text).not.toContain(hashClientSecret(clientSecret).slice("sha256:".length));
  expect(text).not.toContain("secretHashes");

  const denied = await t.call("GET", "/api/v1/identity/service-accounts", developer);
  expect(denied.status).toBe(403);
  expect(denied.json.message).toContain("identity:service-accounts:read");
});

test("sessions of a subject: provider and times, never tokens; 400 without a subject; 403 without the role", async () => {
  const identity = {
    kind: "user" as const,
    subject: "corp:sam",
    provider: "corp",
    email: "sam@example.com",
    groups: [],
    roles: [],
    claims: {},
    credential: "session" as const,
  };
  const first = await sessions.create({ identity, provider: "corp", tokens: { accessToken, refreshToken } });
  const second = await sessions.create({ identity, provider: "corp", tokens: { accessToken } });
  await sessions.create({
    identity: { ...identity, subject: "corp:other" },
    provider: "corp",
    tokens: { accessToken },
  });

  const r = await t.call("GET", "/api/v1/identity/sessions?subject=corp%3Asam", auditor);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  expect(r.json.subject).toBe("corp:sam");
  expect(r.json.truncated).toBe(false);
  const listed = r.json.sessions as Array<Record<string, unknown>>;
  expect(listed).toHaveLength(2);
  for (const s of listed) {
    expect(Object.keys(s).sort()).toEqual(
      ["createdAt", "email", "expiresAt", "lastSeenAt", "provider", "subject"].sort(),
    );
    expect(s.subject).toBe("corp:sam");
    expect(s.provider).toBe("corp");
  }
  // Most recently seen first, each with the store's own times.
  const ends = listed.map((s) => new Date(s.expiresAt as string).getTime()).sort();
  expect(ends).toEqual([first.session.expiresAt, second.session.expiresAt].sort());
  expect(listed.map((s) => new Date(s.createdAt as string).getTime()).sort()).toEqual(
    [first.session.createdAt, second.session.createdAt].sort(),
  );
  const text = JSON.stringify(r.json);
  for (const leak of [accessToken, refreshToken, first.id, first.session.handle])
    expect(text).not.toContain(leak);

  const none = await t.call("GET", "/api/v1/identity/sessions?subject=corp%3Anobody", auditor);
  expect(none.status).toBe(200);
  expect(none.json.sessions).toEqual([]);

  const missing = await t.call("GET", "/api/v1/identity/sessions", auditor);
  expect(missing.status).toBe(400);
  expect(missing.json.message).toContain("subject is required");
  const extra = await t.call("GET", "/api/v1/identity/sessions?subject=corp%3Asam&all=true", auditor);
  expect(extra.status).toBe(400);

  const denied = await t.call("GET", "/api/v1/identity/sessions?subject=corp%3Asam", developer);
  expect(denied.status).toBe(403);
  expect(denied.json.message).toContain("identity:sessions:read");

  // Revoking the subject (the page's action) ends the sessions: the list is empty after it.
  const revoked = await t.call("POST", "/api/v1/identity/revocations", t.admin, {
    subject: "corp:sam",
    reason: "laptop stolen",
  });
  expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
  expect(revoked.json.sessions).toBe(2);
  const after = await t.call("GET", "/api/v1/identity/sessions?subject=corp%3Asam", auditor);
  expect(after.json.sessions).toEqual([]);
  const other = await t.call("GET", "/api/v1/identity/sessions?subject=corp%3Aother", auditor);
  expect(other.json.sessions as unknown[]).toHaveLength(1);
});

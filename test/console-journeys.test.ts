// The console's key journeys end to end, as an operator meets them: `rampart up` runs as its own
// process with a rampart.yaml that puts the console behind a gateway route with SSO; a person signs
// in through a real OpenID provider (oidc-provider) in headless Chromium, and acts with the roles
// RBAC binds to them: approves a just-in-time request, rolls back a secret, completes an erasure
// request against a real PostgreSQL, acknowledges an incident and opens a compliance report, then
// signs out. Nothing is signed in with a token: every API call the console makes carries the
// gateway's identity assertion, and what the person did is checked through the API afterwards.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import pg from "pg";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { codeIn } from "../src/data/privacy/requests/testing.ts";
import { ensureConsoleBuilt } from "./support/console.ts";
import { corpProvider, rampartClient, TOKENS_SECRET } from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freshDatabase } from "./support/pg.ts";
import { postgresShopMap, seedOneCustomer, TARGET } from "./support/privacy-shop.ts";
import { freePort } from "./support/services.ts";
import { type SmtpSink, startSmtpSink } from "./support/sinks.ts";

const bin = fileURLToPath(new URL("../bin/rampart.js", import.meta.url));
const images = fileURLToPath(new URL("../docs/images", import.meta.url));

const BOB = { sub: "bob", email: "bob@example.com", email_verified: true, name: "Bob Oncall" };

let work: string;
let idp: TestIdp;
let up: ChildProcess;
let api: string;
let edge: string;
let admin: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let output = "";
let smtp: SmtpSink;
let shop: { url: string; drop(): Promise<void> };
let db: pg.Client;

/** The control plane's API with the bootstrap admin token (the test's own setup, not the person's). */
async function call(method: string, path: string, body?: unknown, token = admin) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  ensureConsoleBuilt();
  work = mkdtempSync(join(tmpdir(), "rampart-journeys-"));
  // The shop whose customer asks to be erased, and the mailbox her confirmation code goes to.
  smtp = await startSmtpSink();
  shop = await freshDatabase(inject("pgUrl"));
  db = new pg.Client({ connectionString: shop.url });
  await db.connect();
  await seedOneCustomer(db);
  mkdirSync(join(work, "privacy"));
  writeFileSync(join(work, "privacy", "shop.yaml"), postgresShopMap());
  const [port, gatewayPort] = [await freePort(), await freePort()];
  api = `http://127.0.0.1:${port}`;
  edge = `http://127.0.0.1:${gatewayPort}`;
  idp = await startTestIdp({ clients: [rampartClient(edge)], users: [BOB] });
  const config = {
    version: 1,
    server: { port, assertionAudience: "console" },
    gateway: { port: gatewayPort },
    identity: { tokens: { secret: TOKENS_SECRET }, providers: [corpProvider(idp.issuer)] },
    // The console and its API behind one route: people sign in at the provider, then reach both.
    routes: [
      {
        id: "console",
        upstream: api,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { domains: ["example.com"] } }] },
      },
      { id: "grafana", path: "/grafana", upstream: "http://127.0.0.1:9", environment: "prod" },
    ],
    // Bob is on call: security and privacy duties, and the prod secrets.
    rbac: {
      bindings: [
        { id: "on-call", role: "security-admin", users: ["corp:bob"] },
        { id: "dpo", role: "privacy-officer", users: ["corp:bob"] },
        { id: "devs", role: "developer", users: ["corp:alice"] },
      ],
    },
    jit: {
      roles: [
        {
          role: "operator",
          requesters: { users: ["corp:alice"] },
          approvers: { users: ["corp:bob"] },
          approvals: 1,
          maxDurationMinutes: 240,
        },
      ],
    },
    secrets: {
      root: { provider: "file", file: join(work, "root.key") },
      policies: [
        {
          name: "on-call-prod",
          paths: ["/prod/**"],
          capabilities: ["read", "list", "update"],
          users: ["corp:bob"],
        },
      ],
    },
    privacy: {
      map: [join(work, "privacy")],
      connections: { shop_pg: { type: "postgres", url: shop.url, datasets: ["shop"] } },
      smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: "privacy@shop.example" },
      requests: { organisation: "Shop Ltd", publicUrl: "https://privacy.shop.example" },
    },
  };
  writeFileSync(join(work, "rampart.yaml"), JSON.stringify(config, null, 2));

  up = spawn(process.execPath, [bin, "up", "--config", "rampart.yaml"], {
    cwd: work,
    stdio: ["ignore", "pipe", "pipe"],
  });
  up.stdout?.on("data", (d) => (output += d));
  up.stderr?.on("data", (d) => (output += d));
  const deadline = Date.now() + 60_000;
  while (!output.includes("Stop with Ctrl-C")) {
    if (Date.now() > deadline || up.exitCode !== null)
      throw new Error(`rampart up did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  admin = readFileSync(join(work, ".rampart", "admin.token"), "utf8").trim();

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (up && up.exitCode === null) {
    const exited = new Promise((r) => up.once("exit", r));
    up.kill("SIGTERM");
    await exited;
  }
  await idp?.close();
  await db?.end();
  await shop?.drop();
  await smtp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test("rampart up names the web console", () => {
  expect(output).toContain(`web console     ${api}/console/`);
});

test("a person signs in through the OpenID provider and the console knows who they are", async () => {
  await page.goto(`${edge}/console/`);
  // The gateway sends the browser to the provider's login form.
  expect(new URL(page.url()).origin).toBe(idp.issuer);
  await page.locator('input[name="login"]').fill("bob");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  expect(page.url()).toBe(`${edge}/console/`);
  await expect(page.locator(".whoami").textContent()).resolves.toBe("bob@example.com");
  await expect(page.locator(".whoami").getAttribute("title")).resolves.toContain("security-admin");
  // No token was asked for or kept: the session is the gateway's cookie.
  await expect(page.evaluate("sessionStorage.length")).resolves.toBe(0);
  const cookies = await context.cookies(edge);
  expect(cookies.find((c) => c.name === "rampart_session")?.httpOnly).toBe(true);
}, 60_000);

test("the signed-in person approves a just-in-time request; the grant is in force", async () => {
  const aliceKey = (
    await call("POST", "/api/v1/identity/api-keys", { kind: "user", subject: "corp:alice", ttlSeconds: 3600 })
  ).key as string;
  const asked = await call(
    "POST",
    "/api/v1/access/requests",
    {
      role: "operator",
      scope: { kind: "route", id: "grafana" },
      justification: "INC-12: Grafana's disk is full",
      durationMinutes: 60,
    },
    aliceKey,
  );
  await page.goto(`${edge}/console/access`);
  const card = page
    .locator("article, li, .card")
    .filter({ hasText: "INC-12: Grafana's disk is full" })
    .first();
  await card.getByLabel("Comment").fill("Go ahead; close INC-12 when done.");
  await card.getByRole("button", { name: "Approve" }).click();
  await expect
    .poll(async () => (await call("GET", `/api/v1/access/requests/${asked.id as string}`)).status)
    .toBe("approved");
  const grants = (await call("GET", "/api/v1/access/grants")).grants as { subject: string; role: string }[];
  expect(grants).toContainEqual(expect.objectContaining({ subject: "corp:alice", role: "operator" }));
  const decided = await call("GET", `/api/v1/access/requests/${asked.id as string}`);
  expect(JSON.stringify(decided)).toContain("corp:bob");
}, 60_000);

test("the signed-in person rolls back a secret to its first version", async () => {
  for (const password of ["first-password-0001", "leaked-password-0002"])
    await call("PUT", "/api/v1/secrets/data/prod/api/db", { data: { password } });
  await page.goto(`${edge}/console/secrets/${encodeURIComponent("/prod/api/db")}`);
  await page.getByRole("heading", { name: "/prod/api/db", level: 2 }).waitFor();
  await page.getByRole("button", { name: "Roll back to this version (v1)" }).click();
  await page.getByRole("button", { name: "Roll back to version 1" }).click();
  await page.getByRole("status").filter({ hasText: "version 3 now holds version 1's value" }).waitFor();
  const current = await call("GET", "/api/v1/secrets/data/prod/api/db");
  expect(current.version).toBe(3);
  expect(current.data).toEqual({ password: "first-password-0001" });
  // The rollback is the person's act in the audit log (actors are sealed there; a search names them).
  const audit = await call("GET", "/api/v1/audit/entries?type=secrets.rolled_back&actor=user:corp:bob");
  expect(audit.entries).toHaveLength(1);
  expect(await page.locator("body").textContent()).not.toContain("password-000");
}, 60_000);

test("the signed-in person completes an erasure request; the shop's rows no longer name her", async () => {
  const intake = await fetch(`${api}/privacy/requests`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ kind: "erasure", email: TARGET.email }),
  });
  expect(intake.status).toBe(202);
  const id = String(((await intake.json()) as { id: string }).id);
  let code = "";
  await vi.waitFor(
    () => {
      code = codeIn(smtp.received.filter((m) => m.to.includes(TARGET.email)).at(-1)?.parsed.text ?? "");
    },
    { timeout: 10_000, interval: 100 },
  );
  const verified = await fetch(`${api}/privacy/requests/${id}/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  expect(verified.status).toBe(200);
  const email = async () =>
    (await db.query(`select email from users where id = ${TARGET.id}`)).rows[0]?.email;
  expect(await email()).toBe(TARGET.email);

  await page.goto(`${edge}/console/privacy/${id}`);
  await page.getByRole("heading", { name: "Erasure request", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Approve and erase" }).click();
  await page.getByRole("button", { name: "Confirm: approve and erase" }).click();
  await page
    .getByTestId("request-state")
    .getByText("Completed", { exact: true })
    .waitFor({ timeout: 30_000 });
  expect(await email()).not.toBe(TARGET.email);
  const done = await call("GET", `/api/v1/privacy/requests/${id}`);
  expect(done.state).toBe("completed");
  expect(JSON.stringify(done)).toContain("corp:bob");
}, 90_000);

test("the signed-in person acknowledges an incident, and the audit log names them", async () => {
  const opened = await call("POST", "/api/v1/incidents", {
    title: "Leaked deploy key used from a new country",
    priority: "P1",
  });
  const id = opened.id as string;
  await page.goto(`${edge}/console/incidents/${id}`);
  await page.getByRole("heading", { name: "Leaked deploy key used from a new country", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Acknowledge" }).click();
  await page.getByTestId("incident-state").getByText("Triaged", { exact: true }).waitFor();
  const after = await call("GET", `/api/v1/incidents/${id}`);
  expect(after.state).toBe("triaged");
  const timeline = after.timeline as { text: string; actor?: string }[];
  expect(JSON.stringify(timeline)).toContain("corp:bob");
}, 60_000);

test("the signed-in person opens a compliance report", async () => {
  await page.goto(`${edge}/console/compliance/iso27001`);
  await page.getByRole("heading", { name: "Compliance", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Open HTML report" }).waitFor();
  const [report] = await Promise.all([
    context.waitForEvent("page"),
    page.getByRole("button", { name: "Open HTML report" }).click(),
  ]);
  await report.waitForURL(/^blob:/, { timeout: 30_000 });
  await report.getByRole("heading", { level: 1 }).first().waitFor();
  await expect(report.title()).resolves.toContain("ISO");
  await report.close();
}, 90_000);

test("signing out ends the SSO session: the console asks the provider again", async () => {
  await page.goto(`${edge}/console/`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((u) => !u.href.startsWith(`${edge}/console`), { timeout: 15_000 });
  expect(await context.cookies(edge)).not.toContainEqual(
    expect.objectContaining({ name: "rampart_session" }),
  );
  const res = await fetch(`${edge}/api/v1/me`, { headers: { accept: "application/json" } });
  expect(res.status).toBe(401);
}, 60_000);

// The console's key journeys end to end, as an operator meets them: `rampart up` runs as its own
// process with a rampart.yaml that puts the console behind a gateway route with SSO; a person signs
// in through a real OpenID provider (oidc-provider) in headless Chromium, and acts with the roles
// RBAC binds to them: acknowledges an incident and opens a compliance report. Nothing is signed in
// with a token: every API call the console makes carries the gateway's identity assertion.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { ensureConsoleBuilt } from "./support/console.ts";
import { corpProvider, rampartClient, TOKENS_SECRET } from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freePort } from "./support/services.ts";

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

/** The control plane's API with the bootstrap admin token (the test's own setup, not the person's). */
async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${admin}`,
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
    ],
    rbac: { bindings: [{ id: "on-call", role: "security-admin", users: ["corp:bob"] }] },
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

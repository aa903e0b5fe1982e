// The console's access page in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real server: a developer's just-in-time request (made through the API) seen by an
// auditor whose Approve is disabled with the reason, then approved from the keyboard by a person
// who may, the grant's countdown ticking down and the API agreeing the grant is in force; an API
// key created in the page, shown once, working, then revoked with a confirmation and refused; a
// person's SSO sessions looked up by subject. Code run in the page is passed as strings: the tests
// are type-checked without the DOM's types.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createSessionStore, type SessionStore } from "../src/identity/sessions/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, fitsWidth, pageProblems, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");

const alice = "corp:alice"; // developer: asks for access
const bob = "corp:bob"; // security-admin: approves
const aud = "corp:aud"; // auditor: named as an approver by the policy, but RBAC says no

let t: TestServer;
let browser: Browser;
let sessions: SessionStore;
const keys: Record<string, string> = {};
let grafanaRequest: string;

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console-access",
    config: {
      identity: {
        tokens: { secret: "console-access-secret-0123456789abcdef" },
        serviceAccounts: [
          { name: "deployer", description: "Ships releases", roles: ["operator"], scopes: ["deploy"] },
        ],
      },
      routes: [{ id: "grafana", path: "/grafana", upstream: "http://127.0.0.1:9", environment: "prod" }],
      rbac: {
        bindings: [
          { role: "developer", users: [alice] },
          { role: "security-admin", users: [bob] },
          { role: "auditor", users: [aud] },
        ],
      },
      jit: {
        roles: [
          {
            role: "operator",
            requesters: { users: [alice] },
            approvers: { users: [bob, aud] },
            approvals: 1,
            maxDurationMinutes: 240,
          },
        ],
      },
    },
  });
  for (const [name, subject] of Object.entries({ alice, bob, aud }))
    keys[name] = (await t.apiKeyFor(subject)).key;

  const ask = async (body: Record<string, unknown>) => {
    const r = await t.call("POST", "/api/v1/access/requests", keys.alice!, body);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json.id as string;
  };
  grafanaRequest = await ask({
    role: "operator",
    scope: { kind: "route", id: "grafana" },
    justification: "INC-7: Grafana's disk is full",
    durationMinutes: 60,
  });
  // A second request stays pending, so the screenshots show a decision waiting as well as a grant.
  await ask({
    role: "operator",
    scope: { kind: "environment", id: "prod" },
    justification: "Rotate the prod ingress certificate",
    durationMinutes: 30,
  });

  // Alice is signed in at a gateway: a session in the same store and hot state the gateways use.
  sessions = createSessionStore({ hotState: t.server.runtime.hot });
  await sessions.create({
    identity: {
      kind: "user",
      subject: alice,
      provider: "corp",
      groups: [],
      roles: [],
      claims: {},
      credential: "session",
    },
    provider: "corp",
    tokens: { accessToken: "alice-sso-access-token" },
  });

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await sessions?.close();
  await t?.stop();
});

async function openAccess(
  token: string,
  o: { width?: number; height?: number; dark?: boolean } = {},
): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: { width: o.width ?? 1280, height: o.height ?? 900 },
    colorScheme: "light",
  });
  const page = await context.newPage();
  const problems = pageProblems(page);
  await page.goto(`${t.url}/console/access`);
  if (o.dark) await page.getByRole("button", { name: "Dark theme" }).click();
  await signIn(page, token);
  await page.getByRole("heading", { name: "Access", level: 1 }).waitFor();
  return { page, problems };
}

const card = (page: Page, text: RegExp) =>
  page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: text }) });

/** Seconds left in "1 h 05 min 09 s left" / "59 min 58 s left" / "12 s left". */
function secondsLeft(text: string): number {
  const m = /^(?:(\d+) h )?(?:(\d+) min )?(\d+) s left$/.exec(text.trim());
  if (!m) throw new Error(`not a countdown: ${text}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3]);
}

test("an auditor named by the policy sees the request but Approve is disabled with the reason", async () => {
  const { page, problems } = await openAccess(keys.aud!);
  try {
    const request = card(page, /corp:alice asks for operator on route grafana/);
    await request.waitFor();
    await request.getByText("INC-7: Grafana's disk is full").waitFor();
    const approve = request.getByRole("button", { name: "Approve" });
    const deny = request.getByRole("button", { name: "Deny" });
    await request.getByText("Your roles do not include jit:requests:approve.").waitFor();
    expect(await approve.isDisabled()).toBe(true);
    expect(await deny.isDisabled()).toBe(true);
    await expect(approve.getAttribute("aria-describedby")).resolves.toBe(`why-${grafanaRequest}`);
    await expect(approve.locator("..").getAttribute("title")).resolves.toContain("jit:requests:approve");
    // Creating API keys is refused the same way.
    const create = page.getByRole("button", { name: "Create key" });
    expect(await create.isDisabled()).toBe(true);
    await expect(page.locator("#why-create-key").textContent()).resolves.toBe(
      "Your roles do not include identity:api-keys:write.",
    );

    const r = await t.call("GET", `/api/v1/access/requests/${grafanaRequest}`, t.admin);
    expect(r.json.status).toBe("pending");
    expect(problems).toEqual([]);
  } finally {
    await page.context().close();
  }
}, 60_000);

test("the admin token is not a person: the page says so", async () => {
  const { page } = await openAccess(t.admin);
  try {
    await page.getByText(/Approvals need a person's credential .*admin-token is not a person\./).waitFor();
  } finally {
    await page.context().close();
  }
}, 60_000);

test("a person approves from the keyboard; the grant is in force and its countdown ticks", async () => {
  const { page, problems } = await openAccess(keys.bob!);
  try {
    const request = card(page, /corp:alice asks for operator on route grafana/);
    await request.waitFor();
    await request.getByRole("textbox", { name: "Comment on corp:alice's request" }).fill("ok for INC-7");
    const approve = request.getByRole("button", { name: "Approve" });
    expect(await approve.isEnabled()).toBe(true);
    await approve.focus();
    await page.keyboard.press("Enter");
    await request.waitFor({ state: "detached" });

    // The API agrees: approved with bob's comment, and a grant in force for alice.
    const decided = await t.call("GET", `/api/v1/access/requests/${grafanaRequest}`, t.admin);
    expect(decided.json.status).toBe("approved");
    expect(decided.json.decisions).toMatchObject([
      { approver: bob, decision: "approve", comment: "ok for INC-7" },
    ]);
    const grants = (await t.call("GET", `/api/v1/access/grants?subject=${alice}`, t.admin)).json.grants as {
      id: string;
      role: string;
    }[];
    expect(grants).toHaveLength(1);
    expect(grants[0]!.role).toBe("operator");

    const row = page
      .getByRole("table", { name: /Grants in force/ })
      .locator(`tr[data-grant="${grants[0]!.id}"]`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain(alice);
    await expect(row.textContent()).resolves.toContain("route grafana");
    const timer = row.getByRole("timer");
    const before = secondsLeft((await timer.textContent()) ?? "");
    expect(before).toBeGreaterThan(59 * 60);
    expect(before).toBeLessThanOrEqual(60 * 60);
    await sleep(2100);
    const after = secondsLeft((await timer.textContent()) ?? "");
    expect(before - after).toBeGreaterThanOrEqual(2);
    expect(before - after).toBeLessThanOrEqual(4);

    // The other request is still waiting; the screenshot shows both.
    await card(page, /corp:alice asks for operator on environment prod/).waitFor();
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(images, "console-access.png"), fullPage: false });
    expect(problems).toEqual([]);
  } finally {
    await page.context().close();
  }
}, 60_000);

test("a grant's countdown ends at expired", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  try {
    // The page's clock runs fast from now: the hour-long grant runs out without waiting an hour.
    await page.clock.install({ time: new Date() });
    await page.goto(`${t.url}/console/access`);
    await signIn(page, keys.bob!);
    const table = page.getByRole("table", { name: /Grants in force/ });
    const timer = table.getByRole("timer").first();
    await timer.waitFor();
    expect(await timer.textContent()).toMatch(/left$/);
    await page.clock.runFor(61 * 60_000);
    await table
      .getByRole("timer")
      .filter({ hasText: /^expired$/ })
      .first()
      .waitFor();
  } finally {
    await context.close();
  }
}, 60_000);

test("an API key created in the page is shown once, works, and after a confirmed revoke is refused", async () => {
  const { page, problems } = await openAccess(keys.bob!);
  try {
    const form = page.locator("form.access-form");
    await form.getByLabel("Kind").selectOption("service");
    await form.getByLabel("Subject").fill("deployer");
    await form.getByLabel("Description").fill("CI deploy key");
    await form.getByLabel(/Scopes/).fill("deploy");
    await form.getByLabel("Lifetime").selectOption({ label: "1 day" });
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText("Copy this key now: it is shown once and never again.").waitFor();
    const key = await page.getByLabel("New API key").inputValue();
    expect(key.length).toBeGreaterThan(20);

    // The list now shows deployer's keys, the new one active; the key itself is not in the table.
    const table = page.getByRole("table", { name: "API keys of deployer" });
    const row = table.locator("tbody tr").filter({ hasText: "CI deploy key" });
    await row.waitFor();
    await expect(row.locator(".pill").textContent()).resolves.toBe("Active");
    await expect(table.textContent()).resolves.not.toContain(key);
    const me = await t.call("GET", "/api/v1/me", key);
    expect(me.status).toBe(200);
    expect(me.json.subject).toBe("deployer");

    await page.getByRole("button", { name: "I have stored it" }).click();
    await expect(page.getByLabel("New API key").count()).resolves.toBe(0);

    await row.getByRole("button", { name: "Revoke CI deploy key" }).click();
    const confirm = row.getByRole("group", { name: "Confirm revoking CI deploy key" });
    await confirm.getByRole("button", { name: "Confirm revoke" }).click();
    await row.locator(".pill", { hasText: "Revoked" }).waitFor();

    const refused = await t.call("GET", "/api/v1/me", key);
    expect(refused.status).toBe(401);
    expect(problems).toEqual([]);
  } finally {
    await page.context().close();
  }
}, 60_000);

test("service accounts and a person's sessions; dark theme on a phone without sideways scroll", async () => {
  const { page, problems } = await openAccess(keys.bob!, { width: 390, height: 844, dark: true });
  try {
    const accounts = page.getByRole("table", { name: /Service accounts configured/ });
    await accounts.locator("tbody tr").filter({ hasText: "deployer" }).waitFor();
    await expect(accounts.textContent()).resolves.toContain("Ships releases");

    const sessionsPart = page.getByRole("region", { name: "Sessions" });
    await sessionsPart.getByRole("textbox", { name: "Subject" }).fill(alice);
    await sessionsPart.getByRole("button", { name: "Find sessions" }).click();
    const list = page.getByRole("table", { name: `SSO sessions of ${alice}` });
    await list.locator("tbody tr").filter({ hasText: "corp" }).waitFor();
    await expect(list.locator("tbody tr").count()).resolves.toBe(1);
    await expect(page.content()).resolves.not.toContain("alice-sso-access-token");

    await page.evaluate("window.scrollTo(0, 0)");
    const fits = await page.evaluate(fitsWidth);
    expect(fits).toBe(true);
    await page.screenshot({ path: join(images, "console-access-dark-mobile.png"), fullPage: false });
    expect(problems).toEqual([]);
  } finally {
    await page.context().close();
  }
}, 60_000);

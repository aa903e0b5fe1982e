// The console's secrets page in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real server: the tree of paths opened and closed from the keyboard, a secret written in
// three versions through the API, the key diff with values hidden until Reveal (and the audit log
// holding that read afterwards, not before), and rolling back to version 1 from the page with the
// API's current data then equal to version 1's. Code run in the page is passed as strings: the
// tests are type-checked without the DOM's types.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, fitsWidth, pageProblems, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");
const path = "/prod/api/db";
const versions = [
  { user: "svc-api", password: "first-Pa55-one" },
  { user: "svc-api", password: "second-Pa55-two", host: "db1.prod.internal" },
  { password: "third-Pa55-three", host: "db2.prod.internal" },
];

let t: TestServer;
let browser: Browser;
let securityAdmin: string;

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console-secrets",
    config: (work) => ({
      identity: { tokens: { secret: "console-secrets-secret-0123456789abcdef" } },
      events: { batchMaxDelayMs: 10 },
      rbac: { bindings: [{ role: "security-admin", users: ["corp:sec"] }] },
      secrets: {
        root: { provider: "file", file: join(work, "root.key") },
        // Security admins see names and versions, never values, and may not write.
        policies: [{ name: "sec-list", paths: ["/**"], capabilities: ["list"], roles: ["security-admin"] }],
      },
    }),
  });
  securityAdmin = (await t.apiKeyFor("corp:sec")).key;
  for (const data of versions) {
    const r = await t.call("PUT", `/api/v1/secrets/data${path}`, t.admin, { data });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }
  for (const [p, data] of [
    ["/prod/api/token", { token: "tok-1" }],
    ["/dev/web/session", { key: "dev-session-key" }],
  ] as const) {
    const r = await t.call("PUT", `/api/v1/secrets/data${p}`, t.admin, { data });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }
  const meta = await t.call("PATCH", `/api/v1/secrets/metadata${path}`, t.admin, {
    owner: "team-api",
    rotationPeriodDays: 30,
  });
  expect(meta.status, JSON.stringify(meta.json)).toBe(200);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

/** The reads of `path` the audit log holds, as { version } per entry. */
async function readsOf(p: string): Promise<number[]> {
  const r = await t.call(
    "GET",
    `/api/v1/audit/entries?type=secrets.read&target=${encodeURIComponent(`secret:${p}`)}&limit=1000`,
    t.admin,
  );
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return (r.json.entries as { data: { version?: number } }[]).map((e) => e.data.version ?? 0).sort();
}

test("the tree, three versions, a diff hidden until an audited Reveal, and a rollback to v1", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  const problems = pageProblems(page);
  try {
    await page.goto(`${t.url}/console/`);
    await signIn(page, t.admin);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Secrets" }).click();
    await page.getByRole("heading", { name: "Secrets", level: 1 }).waitFor();

    // The tree: environments, then services, then secrets; the keyboard closes and opens a folder.
    const prod = page.getByRole("button", { name: /^prod/ });
    await prod.waitFor();
    await expect(prod.getAttribute("aria-expanded")).resolves.toBe("true");
    await page.getByRole("button", { name: `Secret ${path}` }).waitFor();
    await page.getByRole("button", { name: "Secret /dev/web/session" }).waitFor();
    await page.getByRole("button", { name: /^dev/ }).focus();
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    // dev, dev/web, /dev/web/session, then prod: Left closes prod and hides its secrets.
    await page.keyboard.press("ArrowLeft");
    await expect(prod.getAttribute("aria-expanded")).resolves.toBe("false");
    await page.getByRole("button", { name: `Secret ${path}` }).waitFor({ state: "detached" });
    await page.keyboard.press("ArrowRight");
    await expect(prod.getAttribute("aria-expanded")).resolves.toBe("true");
    await page.getByRole("button", { name: `Secret ${path}` }).click();
    await page.getByRole("heading", { name: path, level: 2 }).waitFor();
    expect(decodeURIComponent(new URL(page.url()).pathname)).toBe(`/console/secrets/${path}`);

    // Three versions, newest first, written by the admin token; rotation every 30 days, on time.
    const rows = page.getByRole("table", { name: `Versions of ${path}, newest first` }).locator("tbody tr");
    await expect(rows.count()).resolves.toBe(3);
    await expect(rows.nth(0).locator("th").textContent()).resolves.toContain("v3");
    await expect(rows.nth(0).textContent()).resolves.toContain("current");
    await expect(rows.nth(2).textContent()).resolves.toContain("token:admin");
    await expect(page.getByTestId("current-version").textContent()).resolves.toBe("3");
    await expect(page.getByTestId("rotation-due").textContent()).resolves.toMatch(/in 30 days.*On time/);
    await page.getByText("every 30 days").waitFor();

    // The diff of v1 → v3 names keys; values are dots, and nothing has been read yet.
    await page.getByLabel("From").selectOption("1");
    const diff = page.getByRole("table", { name: `Keys of ${path} from v1 to v3` });
    await diff.waitFor();
    const change = async (key: string) => diff.locator(`tr[data-key="${key}"] .change`).textContent();
    await expect(change("host")).resolves.toBe("added");
    await expect(change("password")).resolves.toBe("changed");
    await expect(change("user")).resolves.toBe("removed");
    const body = async () => (await page.locator("body").textContent()) ?? "";
    expect(await body()).toContain("••••");
    for (const v of versions) for (const value of Object.values(v)) expect(await body()).not.toContain(value);
    expect(await readsOf(path)).toEqual([]);
    await page.screenshot({ path: join(images, "console-secrets.png"), fullPage: false });

    // Reveal is the audited read of both versions; then the values are shown.
    const reveal = page.getByRole("button", { name: "Reveal values of v1 and v3 (audited read)" });
    await reveal.click();
    await page
      .getByRole("status")
      .filter({ hasText: "this read of v1 and v3 is in the audit log" })
      .waitFor();
    await diff.locator('tr[data-key="password"]').getByText("first-Pa55-one").waitFor();
    await diff.locator('tr[data-key="password"]').getByText("third-Pa55-three").waitFor();
    await diff.locator('tr[data-key="user"]').getByText("svc-api").waitFor();
    expect(await reveal.isDisabled()).toBe(true);
    let reads: number[] = [];
    for (let i = 0; i < 100 && reads.length < 2; i++) {
      reads = await readsOf(path);
      if (reads.length < 2) await new Promise((r) => setTimeout(r, 50));
    }
    expect(reads).toEqual([1, 3]);

    // Roll back to version 1 with a confirmation; the page and the API agree.
    await rows
      .filter({ has: page.locator("th", { hasText: "v1" }) })
      .getByRole("button", { name: "Roll back to this version (v1)" })
      .click();
    await page.getByText("Its value is written again as version 4").waitFor();
    const confirm = page.getByRole("button", { name: "Roll back to version 1" });
    await expect(confirm.isVisible()).resolves.toBe(true);
    expect(await page.evaluate("document.activeElement && document.activeElement.textContent")).toBe(
      "Roll back to version 1",
    );
    await page.keyboard.press("Enter");
    await page.getByRole("status").filter({ hasText: "version 4 now holds version 1's value" }).waitFor();
    await expect(page.getByTestId("current-version").textContent()).resolves.toBe("4");
    await expect(rows.count()).resolves.toBe(4);
    await expect(rows.nth(0).textContent()).resolves.toContain("rollback to v1");
    const current = await t.call("GET", `/api/v1/secrets/data${path}`, t.admin);
    expect(current.status).toBe(200);
    expect(current.json.version).toBe(4);
    expect(current.json.data).toEqual(versions[0]);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
}, 120_000);

test("a security admin sees the versions, but Roll back is disabled and says why", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  try {
    await page.goto(`${t.url}/console/secrets/${encodeURIComponent("/prod/api/token")}`);
    await signIn(page, securityAdmin);
    await page.getByRole("heading", { name: "/prod/api/token", level: 2 }).waitFor();
    await page.getByRole("button", { name: "Secret /dev/web/session" }).waitFor();
    // One version: nothing to roll back to or compare yet; write a second through the API.
    const r = await t.call("PUT", "/api/v1/secrets/data/prod/api/token", t.admin, {
      data: { token: "tok-2" },
    });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    await page.reload();
    const back = page.getByRole("button", { name: "Roll back to this version (v1)" });
    await back.waitFor();
    // The console asked the secrets policies (list only for this role): both are off, with the reason.
    await page.getByText("The secrets policy does not give you update on /prod/api/token.").waitFor();
    expect(await back.isDisabled()).toBe(true);
    await expect(back.getAttribute("aria-describedby")).resolves.toBe("rollback-why");
    const reveal = page.getByRole("button", { name: "Reveal values of v1 and v2 (audited read)" });
    await page.getByText("The secrets policy does not give you read on /prod/api/token.").waitFor();
    expect(await reveal.isDisabled()).toBe(true);
    const caps = await t.call("GET", "/api/v1/secrets/capabilities/prod/api/token", securityAdmin);
    expect(caps.json).toEqual({ path: "/prod/api/token", capabilities: ["list"] });
    expect(await page.locator("body").textContent()).not.toContain("tok-");
  } finally {
    await context.close();
  }
}, 60_000);

test("on a phone in the dark theme the secret fits the screen", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "light" });
  const page = await context.newPage();
  try {
    await page.goto(`${t.url}/console/secrets/${encodeURIComponent(path)}`);
    await signIn(page, t.admin);
    await page.getByRole("button", { name: "Dark theme" }).click();
    await page.getByRole("heading", { name: path, level: 2 }).waitFor();
    await page.getByRole("table", { name: /^Keys of / }).waitFor();
    expect(await page.evaluate(fitsWidth)).toBe(true);
    await expect(page.getByRole("button", { name: "Dark theme" }).getAttribute("aria-pressed")).resolves.toBe(
      "true",
    );
    await page.evaluate("document.getElementById('versions-h').scrollIntoView()");
    await page.screenshot({ path: join(images, "console-secrets-dark-mobile.png"), fullPage: false });
    expect(await page.evaluate(fitsWidth)).toBe(true);
  } finally {
    await context.close();
  }
}, 60_000);

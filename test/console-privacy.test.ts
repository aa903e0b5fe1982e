// The console's privacy page in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real server whose data map is the example shop on a real PostgreSQL with one customer:
// she files an erasure request at the public endpoint and confirms it with the mailed code; a
// privacy officer signs in, finds it in the queue by deadline, opens it, approves it from the
// keyboard and watches it complete; then her rows in PostgreSQL no longer hold her email, phone or
// name and the API says completed. An operator sees the request but its actions are disabled with
// the reason. Consent per purpose and the breach register's clocks (one running, one overdue) render
// with their numbers in words. Code run in the page is passed as strings: the tests are
// type-checked without the DOM's types.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, inject, test, vi } from "vitest";
import { codeIn } from "../src/data/privacy/requests/testing.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, fitsWidth, pageProblems, signIn } from "./support/console.ts";
import { freshDatabase } from "./support/pg.ts";
import { postgresShopMap, seedOneCustomer, TARGET } from "./support/privacy-shop.ts";
import { type SmtpSink, startSmtpSink } from "./support/sinks.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");
const HOUR = 3_600_000;

let t: TestServer;
let smtp: SmtpSink;
let shop: { url: string; drop(): Promise<void> };
let db: pg.Client;
let browser: Browser;
let officer: string;
let operator: string;
let requestId: string;

const publicPost = async (path: string, body: unknown) => {
  const res = await fetch(`${t.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  ensureConsoleBuilt();
  smtp = await startSmtpSink();
  shop = await freshDatabase(inject("pgUrl"));
  db = new pg.Client({ connectionString: shop.url });
  await db.connect();
  await seedOneCustomer(db);
  t = await startTestServer({
    name: "console-privacy",
    files: { "privacy/shop.yaml": postgresShopMap() },
    config: (work) => ({
      identity: { tokens: { secret: "console-privacy-secret-0123456789abcdef" } },
      rbac: {
        bindings: [
          { role: "privacy-officer", users: ["corp:pia"] },
          { role: "operator", users: ["corp:otto"] },
        ],
      },
      privacy: {
        map: [join(work, "privacy")],
        connections: { shop_pg: { type: "postgres", url: shop.url, datasets: ["shop"] } },
        smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: "privacy@shop.example" },
        requests: { organisation: "Shop Ltd", publicUrl: "https://privacy.shop.example" },
      },
    }),
  });
  officer = (await t.apiKeyFor("corp:pia")).key;
  operator = (await t.apiKeyFor("corp:otto")).key;

  // The customer asks for erasure and confirms it with the code mailed to her.
  const intake = await publicPost("/privacy/requests", { kind: "erasure", email: TARGET.email });
  expect(intake.status, JSON.stringify(intake.json)).toBe(202);
  requestId = String(intake.json.id);
  let code = "";
  await vi.waitFor(
    () => {
      const mail = smtp.received.filter((m) => m.to.includes(TARGET.email)).at(-1);
      code = codeIn(mail?.parsed.text ?? "");
    },
    { timeout: 10_000, interval: 100 },
  );
  const verified = await publicPost(`/privacy/requests/${requestId}/verify`, { code });
  expect(verified.json.state).toBe("verified");

  // An objection taken by phone a moment later: the same period, so its deadline sorts after the
  // erasure's; a person carries it out, so it is in hand (processing) at once.
  const recorded = await t.call("POST", "/api/v1/privacy/requests", officer, {
    request: { kind: "objection", email: "someone@example.org", details: "Please stop the newsletter." },
    identityCheck: "Called back on the number on file",
  });
  expect(recorded.status, JSON.stringify(recorded.json)).toBe(201);

  // Consent decisions for two purposes.
  const notice = { id: "signup-2026", hash: "d".repeat(64) };
  const consent = async (subject: string, purpose: string, state: "given" | "withdrawn") => {
    const r = await t.call("POST", "/api/v1/privacy/consents", t.admin, {
      subject,
      purpose,
      state,
      channel: "web",
      ...(state === "given" ? { notice, jurisdiction: "gdpr" } : {}),
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  };
  for (const s of ["u1", "u2", "u3"]) await consent(s, "marketing.email", "given");
  await consent("u2", "marketing.email", "withdrawn");
  for (const s of ["u1", "u3"]) await consent(s, "analytics.reporting", "given");

  // Two breaches: one the authority must hear of within about two hours, one already overdue.
  const breach = async (title: string, hoursAgo: number) => {
    const r = await t.call("POST", "/api/v1/privacy/breaches", officer, {
      title,
      description: "Found in the access logs.",
      regimes: ["gdpr"],
      awareAt: new Date(Date.now() - hoursAgo * HOUR).toISOString(),
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  };
  await breach("Order export left in a public bucket", 80);
  await breach("Support mailbox forwarded to a stranger", 70);

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await db?.end();
  await shop?.drop();
  await smtp?.close();
});

/** Every text value of the customer's rows in the shop, joined: what must no longer name her. */
async function herRows(): Promise<string> {
  const out: string[] = [];
  for (const [table, where] of [
    ["users", `id = ${TARGET.id}`],
    ["addresses", `user_id = ${TARGET.id}`],
    ["orders", `user_id = ${TARGET.id}`],
    ["support_tickets", `user_id = ${TARGET.id} or user_id is null`],
    ["sessions", `user_id = ${TARGET.id}`],
  ] as const)
    out.push(JSON.stringify((await db.query(`select to_jsonb(t) as r from ${table} t where ${where}`)).rows));
  return out.join("\n");
}

test("an operator sees the erasure request but its actions are disabled with the reason", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  try {
    await page.goto(`${t.url}/console/privacy/${requestId}`);
    await signIn(page, operator);
    await page.getByRole("heading", { name: "Erasure request", level: 1 }).waitFor();
    await page.getByTestId("request-state").getByText("Verified", { exact: true }).waitFor();
    const approve = page.getByRole("button", { name: "Approve and erase" });
    await page.getByText("Your roles do not include privacy:write.").waitFor();
    expect(await approve.isDisabled()).toBe(true);
    await expect(approve.getAttribute("aria-describedby")).resolves.toBe("privacy-why");
    expect(await page.getByRole("button", { name: "Reject" }).isDisabled()).toBe(true);
    // The requester's address is masked on the page.
    await page.getByText(`a•••@example.com`).waitFor();
    expect(await page.content()).not.toContain(TARGET.email);
    const api = await t.call("GET", `/api/v1/privacy/requests/${requestId}`, officer);
    expect(api.json.state).toBe("verified");
  } finally {
    await page.close();
  }
}, 60_000);

test("a privacy officer takes the erasure request to completion from the page", async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  const problems = pageProblems(page);
  try {
    expect(await herRows()).toContain(TARGET.email);
    // Straight to the page (the overview asks for reads this role is not given).
    await page.goto(`${t.url}/console/privacy`);
    await signIn(page, officer);
    await page.getByRole("heading", { name: "Privacy", level: 1 }).waitFor();
    await expect(
      page
        .getByRole("navigation", { name: "Console" })
        .getByRole("link", { name: "Privacy" })
        .getAttribute("aria-current"),
    ).resolves.toBe("page");

    // The queue: soonest deadline first, each with its state, age and time left.
    const queue = page.getByRole("table", { name: /Data-subject requests \(open\)/ }).locator("tbody tr");
    await queue.filter({ hasText: requestId }).waitFor();
    expect(await queue.count()).toBe(2);
    const first = queue.nth(0);
    await expect(first.textContent()).resolves.toContain("Erasure");
    await expect(first.locator("[data-state]").textContent()).resolves.toBe("Verified");
    await expect(first.locator(".deadline").textContent()).resolves.toMatch(/\d+ d \d+ h left/);
    await expect(queue.nth(1).locator("[data-state]").textContent()).resolves.toBe("Processing");
    await expect(queue.nth(1).textContent()).resolves.toContain("Objection");

    // Consent per purpose, the numbers in words beside the bars.
    const stats = await t.call("GET", "/api/v1/privacy/consent-stats", officer);
    expect(stats.status, JSON.stringify(stats.json)).toBe(200);
    const consent = page.getByRole("list", { name: "Consent per purpose: granted, withdrawn, expired" });
    await expect(
      consent.locator("li").filter({ hasText: "marketing.email" }).textContent(),
    ).resolves.toContain("2 granted, 1 withdrawn");
    await expect(
      consent.locator("li").filter({ hasText: "analytics.reporting" }).textContent(),
    ).resolves.toContain("2 granted");
    await page.getByText("3 people have a consent decision on record.").waitFor();

    // The breach clocks: one running down (about two hours left), one overdue in words.
    const running = page
      .getByRole("table", { name: "Notification clocks of Support mailbox forwarded to a stranger" })
      .locator('tr[data-clock="gdpr.authority"]');
    await expect(running.textContent()).resolves.toMatch(/1 h 5\d min \d\d s left/);
    const before = await running.locator(".clock").textContent();
    await vi.waitFor(async () => expect(await running.locator(".clock").textContent()).not.toBe(before), {
      timeout: 5000,
      interval: 200,
    });
    const overdue = page
      .getByRole("table", { name: "Notification clocks of Order export left in a public bucket" })
      .locator('tr[data-clock="gdpr.authority"] .clock');
    await expect(overdue.textContent()).resolves.toMatch(/^Overdue by 8 h \d+ min \d\d s — not notified$/);
    await expect(overdue.getAttribute("class")).resolves.toContain("clock-overdue");
    await page.screenshot({ path: join(images, "console-privacy.png"), fullPage: false });

    // Open the erasure request: its steps and what the workflow allows next.
    await first.getByRole("link", { name: "Erasure" }).click();
    await page.getByRole("heading", { name: "Erasure request", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/console/privacy/${requestId}`);
    const steps = page.locator(".privacy-steps li");
    await expect(steps.nth(0).textContent()).resolves.toContain("Done");
    await expect(steps.nth(1).textContent()).resolves.toContain("Identity verified");
    await expect(steps.nth(2).textContent()).resolves.toMatch(/^NowApproved by an officer/);
    await page.getByRole("button", { name: "Extend the deadline" }).waitFor();
    await page.getByRole("button", { name: "Reject" }).waitFor();

    // Approve from the keyboard, with a note for the history.
    const approve = page.getByRole("button", { name: "Approve and erase" });
    expect(await approve.isEnabled()).toBe(true);
    await approve.focus();
    await page.keyboard.press("Enter");
    await page.getByText("This cannot be undone.").waitFor();
    await page
      .getByLabel("Note for the history (optional)")
      .fill("Identity confirmed by code; no legal hold.");
    await page.getByRole("button", { name: "Confirm: approve and erase" }).press("Enter");
    await page.getByRole("status").filter({ hasText: "Approved; the engine is carrying it out." }).waitFor();
    await page
      .getByTestId("request-state")
      .getByText("Completed", { exact: true })
      .waitFor({ timeout: 20_000 });
    await page.getByTestId("receipt").waitFor();
    await page.getByText("Nothing is left to do: the request is completed.").waitFor();
    const history = page.getByRole("table", { name: `History of ${requestId}, oldest first` });
    await expect(history.textContent()).resolves.toContain("Identity confirmed by code; no legal hold.");
    await expect(history.textContent()).resolves.toContain("user:corp:pia");

    // PostgreSQL no longer holds her email, phone or name; the API agrees the request is completed.
    const rows = await herRows();
    expect(rows).not.toContain(TARGET.email);
    expect(rows).not.toContain(TARGET.phone);
    expect(rows).not.toContain(TARGET.workEmail);
    const user = (await db.query(`select email, first_name from users where id = ${TARGET.id}`)).rows[0];
    expect(user?.email).not.toBe(TARGET.email);
    expect(user?.first_name).not.toBe(TARGET.firstName);
    const api = await t.call("GET", `/api/v1/privacy/requests/${requestId}`, officer);
    expect(api.json.state).toBe("completed");
    expect(api.json.approvedBy).toBe("user:corp:pia");

    // Back in the queue the erasure is gone from the open requests.
    await page.getByRole("link", { name: "← Privacy" }).click();
    await page.getByRole("table", { name: /Data-subject requests \(open\)/ }).waitFor();
    await page.getByText(requestId).waitFor({ state: "detached" });
    expect(problems).toEqual([]);
  } finally {
    await page.close();
  }
}, 120_000);

test("dark theme on a phone: no sideways scroll, the clocks still say overdue in words", async () => {
  const page = await browser.newPage({
    viewport: { width: 390, height: 844 },
    colorScheme: "light",
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  try {
    await page.goto(`${t.url}/console/privacy`);
    await page.getByRole("button", { name: "Dark theme" }).click();
    await signIn(page, officer);
    await page.getByRole("heading", { name: "Privacy", level: 1 }).waitFor();
    await page.getByRole("table", { name: /Data-subject requests/ }).waitFor();
    await page.getByText(/^Overdue by 8 h/).waitFor();
    // The deadline column is on screen, not scrolled away inside the table.
    const left = await page
      .getByText(/^\d+ d \d+ h left$/)
      .first()
      .boundingBox();
    expect(left && left.x + left.width).toBeLessThanOrEqual(390);
    await page.getByRole("list", { name: /Consent per purpose/ }).waitFor();
    expect(await page.evaluate(fitsWidth)).toBe(true);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await expect(page.evaluate("document.documentElement.dataset.theme")).resolves.toBe("dark");
    await page.screenshot({ path: join(images, "console-privacy-dark-mobile.png"), fullPage: false });

    await page.getByRole("combobox", { name: "Show" }).selectOption("all");
    await page.getByRole("link", { name: "Erasure" }).click();
    await page.getByRole("heading", { name: "Erasure request", level: 1 }).waitFor();
    // Completed by the test before: the long receipt key is on the page.
    await page.getByTestId("request-state").getByText("Completed", { exact: true }).waitFor();
    await page.getByTestId("receipt").waitFor();
    // A long receipt key wraps: the page stays as wide as the phone (a mobile browser would zoom out
    // to fit a wider page, so the measure is the phone's 390 px, not innerWidth).
    expect(await page.evaluate(fitsWidth)).toBe(true);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
  } finally {
    await page.close();
  }
}, 60_000);

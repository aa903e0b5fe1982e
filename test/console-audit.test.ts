// The console's Audit page in headless Chromium (Debian's chromium, driven by playwright-core) against
// a real server holding 10,000 seeded events: search a time window, scroll to the end so every page
// loads by cursor while the DOM keeps only a window of rows, time 50 scroll steps, open an entry whose
// personal details read [sealed], filter by type, verify the logs, and export the window as one file
// that verifies offline (and fails once changed). Code run in the page is passed as strings: the
// tests are type-checked without the DOM's types.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { verifyBundle } from "../src/monitoring/audit/index.ts";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, pageProblems, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");

const COUNT = 10_000;
/** Every 100th event is a secret read by a person; the rest are WAF blocks and rate limits. */
const RARE = "secret.read";
const pad = (i: number) => String(i).padStart(5, "0");

let t: TestServer;
let browser: Browser;
/** The seeded window [from, to), whole seconds, ending well before the server's own events. */
let from: Date;
let to: Date;

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console-audit",
    config: { identity: { tokens: { secret: "console-audit-secret-0123456789abcdef0123" } } },
  });
  from = new Date(Math.floor(Date.now() / 1000) * 1000 - 4 * 3600 * 1000);
  to = new Date(from.getTime() + COUNT * 1000);
  const events: SecurityEvent[] = Array.from({ length: COUNT }, (_, i) => {
    const rare = i % 100 === 0;
    return newEvent({
      id: `console-audit-${pad(i)}`,
      time: new Date(from.getTime() + i * 1000).toISOString(),
      type: rare ? RARE : i % 2 === 0 ? "waf.blocked" : "ratelimit.limited",
      retention: rare ? "audit" : "security",
      actor: rare
        ? { kind: "user", id: `reader${i % 7}@example.com` }
        : { kind: "ip", id: `203.0.113.${i % 250}` },
      target: { kind: "route", id: `/r/${pad(i)}` },
      outcome: rare ? "success" : "denied",
      data: rare ? { i } : { i, rule: "942100" },
      ...(rare ? { personal: { email: `reader${i % 7}@example.com` } } : {}),
    });
  });
  const bus = t.server.runtime.bus;
  for (let b = 0; b < COUNT / 1000; b++) {
    const r = await bus.publish(events.slice(b * 1000, (b + 1) * 1000), {
      batchId: `console-audit-seed-${b}`,
    });
    expect(r.duplicate).toBe(false);
  }
  await bus.flush();
  // Wait until the entries API returns every seeded event.
  const window = `from=${from.toISOString()}&to=${to.toISOString()}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const started = performance.now();
    let n = 0;
    let cursor: string | undefined;
    do {
      const path = `/api/v1/audit/entries?${window}&limit=1000${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await t.call("GET", path, t.admin);
      expect(page.status).toBe(200);
      n += (page.json.entries as unknown[]).length;
      cursor = page.json.next as string | undefined;
    } while (cursor);
    console.log(`entries API: ${n} entries in ${(performance.now() - started).toFixed(0)} ms`);
    if (n === COUNT) break;
    if (Date.now() > deadline) throw new Error(`the entries API returned ${n} of ${COUNT} seeded events`);
    await new Promise((r) => setTimeout(r, 250));
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

/** A datetime-local value for `d`; the browser runs in UTC, so its local time is UTC. */
const local = (d: Date) => d.toISOString().slice(0, 19);

const scroller = `document.querySelector(".audit-scroll")`;
const toBottom = `${scroller}.scrollTop = ${scroller}.scrollHeight`;
const rowsInDom = (page: Page) => page.locator('.audit-scroll [role="row"]').count();

async function openAudit(page: Page): Promise<void> {
  await page.goto(`${t.url}/console/`);
  await signIn(page, t.admin);
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Audit" }).click();
  await page.getByRole("heading", { name: "Audit", level: 1 }).waitFor();
}

async function searchWindow(page: Page, type = ""): Promise<void> {
  await page.getByLabel("Type").fill(type);
  await page.getByLabel("From").fill(local(from));
  await page.getByLabel("To (before)").fill(local(to));
  await page.getByRole("button", { name: "Search" }).click();
}

test("10,000 entries: search, scroll to the end by cursor with a virtualised list, open one, filter by type", async () => {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
    timezoneId: "UTC",
  });
  const page = await context.newPage();
  const problems = pageProblems(page);
  try {
    await openAudit(page);
    await searchWindow(page);
    const status = page.getByTestId("audit-status");
    await expect.poll(() => status.textContent()).toMatch(/^500 entries loaded/);
    // The newest seeded event comes first.
    await page
      .locator('.audit-scroll [role="row"]')
      .first()
      .getByText(`route:/r/${pad(COUNT - 1)}`)
      .waitFor();

    // Scroll to the bottom again and again: each time the next page comes by cursor, until none is left.
    let most = await rowsInDom(page);
    const deadline = Date.now() + 120_000;
    while (!/all loaded/.test((await status.textContent()) ?? "")) {
      expect(Date.now(), `every page loads within two minutes (${await status.textContent()})`).toBeLessThan(
        deadline,
      );
      await page.evaluate(toBottom);
      await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
      most = Math.max(most, await rowsInDom(page));
    }
    await expect(status.textContent()).resolves.toBe("10,000 entries, all loaded");
    await page.evaluate(toBottom);
    // The oldest seeded entry is the last row, and it is on screen.
    const last = page.locator('.audit-scroll [role="row"]').filter({ hasText: `route:/r/${pad(0)}` });
    await last.waitFor();
    await expect(last.getAttribute("aria-rowindex")).resolves.toBe(String(COUNT + 1));
    expect(await last.isVisible()).toBe(true);
    most = Math.max(most, await rowsInDom(page));
    console.log(`audit list: at most ${most} row elements in the DOM for ${COUNT} entries`);
    expect(most).toBeGreaterThan(5);
    expect(most).toBeLessThanOrEqual(100);

    // Smoothness: 50 scroll steps through the middle, each awaited with a frame, rows counted as they go.
    const measured = (await page.evaluate(`(async () => {
      const el = ${scroller};
      const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
      let most = 0;
      const start = performance.now();
      for (let k = 0; k < 50; k++) {
        el.scrollTop = (el.scrollHeight * k) / 50;
        await frame();
        most = Math.max(most, el.querySelectorAll('[role="row"]').length);
      }
      return { ms: performance.now() - start, most };
    })()`)) as { ms: number; most: number };
    console.log(
      `audit list: 50 scroll steps in ${measured.ms.toFixed(0)} ms (${(measured.ms / 50).toFixed(1)} ms a step), at most ${measured.most} rows`,
    );
    expect(measured.most).toBeLessThanOrEqual(100);
    expect(measured.ms).toBeLessThan(5_000);

    await page.evaluate(`${scroller}.scrollTop = 0`);
    await page.screenshot({ path: join(images, "console-audit.png") });

    // Filter by type: only secret reads, one in a hundred.
    await searchWindow(page, RARE);
    await expect.poll(() => status.textContent()).toBe("100 entries, all loaded");
    const types = await page.locator(".audit-scroll .audit-type").allTextContents();
    expect(types.length).toBeGreaterThan(0);
    expect(new Set(types)).toEqual(new Set([RARE]));

    // A row opens its details: data as JSON, the person's email sealed.
    await page
      .locator('.audit-scroll [role="row"]')
      .first()
      .getByRole("button", { name: /show details/ })
      .click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await expect(dialog.getByRole("heading", { level: 2 }).textContent()).resolves.toBe(RARE);
    const json = await dialog.locator(".audit-json").first().textContent();
    expect(JSON.parse(json ?? "null")).toEqual({ i: 9900 });
    await dialog.getByText("[sealed]").waitFor();
    expect(await dialog.textContent()).not.toContain("@example.com");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });

    // The export hint carries the search's window.
    await expect(page.getByTestId("audit-export-command").textContent()).resolves.toBe(
      `rampart audit export --from ${from.toISOString()} --to ${to.toISOString()} --out DIR`,
    );
    // The window as one downloaded file, verified offline against the key the page shows.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download export" }).click(),
    ]);
    const saved = mkdtempSync(join(tmpdir(), "rampart-console-export-"));
    try {
      const file = join(saved, download.suggestedFilename());
      await download.saveAs(file);
      const key = (await page.getByTestId("audit-verifier-key").textContent()) ?? "";
      const checked = verifyBundle(file, key);
      expect(checked).toMatchObject({ ok: true, keyPinned: true });
      expect(checked.entries).toBeGreaterThanOrEqual(COUNT);
      await page
        .getByRole("status")
        .filter({ hasText: /^Saved rampart-audit-.*\.json: [\d,]+ entries\.$/ })
        .waitFor();
      // One changed entry and the file no longer verifies.
      const bundle = JSON.parse(readFileSync(file, "utf8")) as { files: Record<string, string> };
      bundle.files["entries.jsonl"] = (bundle.files["entries.jsonl"] as string).replace("9900", "9901");
      writeFileSync(file, JSON.stringify(bundle));
      expect(verifyBundle(file, key)).toMatchObject({
        ok: false,
        problem: "entries.jsonl does not match its SHA-256 in the signed manifest",
      });
    } finally {
      rmSync(saved, { recursive: true, force: true });
    }

    // The logs with their sizes, then a verification run over all of them.
    const logs = page.getByRole("region", { name: "Logs" });
    const security = logs.getByRole("row").filter({ hasText: "security/" });
    await security.first().waitFor();
    const sizes = await security.locator("td.num").allTextContents();
    expect(sizes.reduce((n, s) => n + Number(s.replace(/\D/g, "")), 0)).toBeGreaterThanOrEqual(COUNT - 100);
    // Before any run here, the page says what the record holds (the server verifies on a timer).
    const before = (await t.call("GET", "/api/v1/audit/logs", t.admin)).json;
    await expect(logs.locator("p").first().textContent()).resolves.toMatch(
      before.lastVerification ? /^Verified / : /^The logs have not been verified yet\.$/,
    );
    // Checkpoints are signed on a timer; sign one now so the table has one to show after the run.
    expect((await t.call("POST", "/api/v1/audit/checkpoint", t.admin, {})).status).toBe(200);
    await logs.getByRole("button", { name: "Verify logs now" }).click();
    await logs.getByText(/^All [\d,]+ entries verified/).waitFor({ timeout: 60_000 });
    const verdicts = await logs.locator("tbody tr .pill").allTextContents();
    expect(verdicts.length).toBeGreaterThan(0);
    expect(new Set(verdicts)).toEqual(new Set(["Verified"]));
    // The run is on record for everyone (and for the compliance check), and checkpoints show per log.
    const after = (await t.call("GET", "/api/v1/audit/logs", t.admin)).json as {
      lastVerification: { ok: boolean; at: string; entries: number } | null;
      logs: { checkpoint: { size: number; signedAt: string } | null }[];
    };
    expect(after.lastVerification?.ok).toBe(true);
    expect(after.lastVerification?.entries).toBeGreaterThanOrEqual(COUNT);
    expect(after.logs.some((l) => (l.checkpoint?.size ?? 0) > 0)).toBe(true);
    await expect.poll(() => security.first().locator("td").nth(4).textContent()).toMatch(/^[\d,]+ signed \S/);
    // Dark theme: the list follows the theme's colours.
    const surface = () =>
      page.evaluate<string>(`getComputedStyle(document.querySelector(".audit-table")).backgroundColor`);
    const light = await surface();
    await page.getByRole("button", { name: "Dark theme" }).click();
    await expect.poll(surface).not.toBe(light);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
}, 240_000);

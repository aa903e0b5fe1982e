// The console's Edge page in headless Chromium (Debian's chromium, driven by playwright-core) against
// a real server whose audit log holds seeded gateway decisions: the routes with their policy badges,
// the chart's bars for the seeded refusals, the top blocked client blocked with one click (and the
// API then lists the block), live decisions arriving while live and not while paused, the WAF
// proposal's YAML copied, a role that may not block, and screenshots in light and dark at phone
// width. Code run in the page is passed as strings: the tests are type-checked without DOM types.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { parse } from "yaml";
import { newEvent, type SecurityEvent } from "../src/platform/events/index.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, fitsWidth, pageProblems, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");

let t: TestServer;
let browser: Browser;
let auditor: string;
let batch = 0;

const decision = (
  type: string,
  client: string,
  route: string,
  count: number,
  minutesAgo: number,
  detail?: string,
): SecurityEvent =>
  newEvent({
    type: `gateway.${type}`,
    time: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    severity: "medium",
    outcome: type === "waf_detected" ? "success" : "denied",
    actor: { kind: "ip", id: client },
    target: { kind: "route", id: route },
    data: { count, ...(detail ? { detail } : {}) },
  });

async function seed(events: SecurityEvent[]): Promise<void> {
  const bus = t.server.runtime.bus;
  expect((await bus.publish(events, { batchId: `console-edge-seed-${++batch}` })).duplicate).toBe(false);
  await bus.flush();
}

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console-edge",
    config: {
      identity: { tokens: { secret: "console-edge-secret-0123456789abcdef0123" } },
      rbac: { bindings: [{ role: "auditor", users: ["corp:aud"] }] },
      routes: [
        {
          id: "shop",
          path: "/",
          upstream: "http://127.0.0.1:9",
          waf: { mode: "detect" },
          rateLimits: [{ name: "per-ip", limit: 100, windowSeconds: 60 }],
          geo: { deny: ["RU"] },
        },
        {
          host: "admin.example.com",
          path: "/",
          upstream: "http://127.0.0.1:9",
          environment: "prod",
          auth: { accept: ["api-key"] },
          policy: { rules: [{ allow: { roles: ["admin"] } }] },
        },
      ],
    },
  });
  auditor = (await t.apiKeyFor("corp:aud")).key;
  const sqli = "sqli-tautology@ARGS:q score=5";
  await seed([
    decision("rate_limited", "203.0.113.9", "shop", 40, 150),
    decision("rate_limited", "203.0.113.9", "shop", 25, 70),
    decision("waf_blocked", "198.51.100.23", "shop", 6, 70, "xss-script-tag@ARGS:bio score=5"),
    decision("geo_denied", "192.0.2.77", "shop", 4, 30, "RU"),
    decision("country_blocked", "192.0.2.78", "shop", 2, 20, "country:CN"),
    decision("bot_blocked", "192.0.2.90", "shop", 3, 10),
    decision("policy_denied", "192.0.2.91", "admin.example.com/", 5, 5),
    ...[1, 2, 3, 4].map((i) => decision("waf_detected", `203.0.113.${i}`, "shop", 2, 60, sqli)),
  ]);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function openEdge(page: Page, token: string): Promise<void> {
  // A deep link: at phone width the nav is folded away.
  await page.goto(`${t.url}/console/edge`);
  await signIn(page, token);
  await page.getByRole("heading", { name: "Edge", level: 1 }).waitFor();
}

/** The sum of the chart's bar segments of one series, as drawn. */
const drawn = (page: Page, series: string) =>
  page.evaluate<number>(
    `[...document.querySelectorAll('[data-testid="decisions-chart"] rect[data-series="${series}"]')]
      .reduce((n, r) => n + Number(r.getAttribute("data-count")), 0)`,
  );

test("routes, the chart's bars, the top blocked client blocked in one click, live decisions, the WAF proposal", async () => {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
    timezoneId: "UTC",
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: t.url });
  const page = await context.newPage();
  const problems = pageProblems(page);
  try {
    await openEdge(page, t.admin);

    // Routes with their policies in words.
    const routes = page.getByRole("table", { name: "Routes in force and what guards them" });
    const shop = routes.getByRole("row").filter({ hasText: "shop" });
    for (const badge of ["WAF detect", "limit per-ip 100/1m", "geo deny RU", "public"])
      await shop.getByText(badge, { exact: true }).waitFor();
    const admin = routes.getByRole("row").filter({ hasText: "admin.example.com/" });
    for (const badge of ["env prod", "no WAF", "sign-in required", "policy 1 rule"])
      await admin.getByText(badge, { exact: true }).waitFor();

    // The chart draws the seeded refusals per series; detections are not blocks.
    const chart = page.getByTestId("decisions-chart");
    await chart.waitFor();
    expect(await drawn(page, "limits")).toBe(65);
    expect(await drawn(page, "waf")).toBe(6);
    expect(await drawn(page, "address")).toBe(6);
    expect(await drawn(page, "bots")).toBe(3);
    expect(await drawn(page, "access")).toBe(5);
    await expect(chart.getAttribute("aria-label")).resolves.toContain("65 rate limited");
    // The same numbers as a table.
    await page.getByText("Show the numbers as a table").click();
    const table = page.getByRole("table", { name: /Refused requests, last 24 hours, per time bucket/ });
    await expect(table.getByRole("cell", { name: "40", exact: true }).count()).resolves.toBe(1);
    await page.getByText("Show the numbers as a table").click();
    await table.waitFor({ state: "hidden" });

    // The top blocked client, blocked in one click; the API then lists the block.
    const clients = page.getByTestId("top-clients");
    const top = clients.locator("tbody tr").first();
    await expect(top.getByRole("rowheader").textContent()).resolves.toBe("203.0.113.9");
    await expect(top.getByRole("cell").first().textContent()).resolves.toBe("65");
    await top.getByRole("button", { name: "Block 203.0.113.9 for an hour" }).click();
    await top.getByText(/^Blocked until/).waitFor();
    const blocks = await t.call("GET", "/api/v1/gateway/blocks", t.admin);
    expect(blocks.json.blocks).toEqual([
      expect.objectContaining({ target: "203.0.113.9", reason: expect.stringContaining("65 refused") }),
    ]);

    // Countries refused.
    const countries = page.getByRole("list", { name: "Requests refused by country" });
    await countries.getByText("4 refused").waitFor();
    await countries.getByText("CN").waitFor();

    // The WAF proposal's YAML, copied in one click.
    const yaml = page.getByLabel("Proposed exclusion YAML for shop");
    const text = (await yaml.textContent()) ?? "";
    expect((parse(text) as { exclusions: unknown }).exclusions).toEqual([
      { rules: ["sqli-tautology"], targets: ["ARGS:q"] },
    ]);
    await page.getByRole("button", { name: "Copy the proposed exclusion for shop" }).click();
    await page.getByText(/^Copied\./).waitFor();
    await expect(page.evaluate<string>("navigator.clipboard.readText()")).resolves.toBe(text);

    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(images, "console-edge.png") });

    // Live: a new decision shows up within a poll; paused, the next one does not.
    const live = page.getByTestId("live-decisions");
    await seed([decision("rate_limited", "203.0.113.150", "shop", 1, 0)]);
    await live.getByText("203.0.113.150").waitFor({ timeout: 15_000 });
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText("Paused", { exact: false }).first().waitFor();
    await seed([decision("rate_limited", "203.0.113.151", "shop", 1, 0)]);
    await page.waitForTimeout(7000);
    await expect(live.getByText("203.0.113.151").count()).resolves.toBe(0);
    await page.getByRole("button", { name: "Resume" }).click();
    await live.getByText("203.0.113.151").waitFor({ timeout: 15_000 });
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
}, 120_000);

test("an auditor sees the edge but may not block: the button says why; dark theme at phone width", async () => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    colorScheme: "light",
    timezoneId: "UTC",
  });
  const page = await context.newPage();
  try {
    await openEdge(page, auditor);
    const clients = page.getByTestId("top-clients");
    const row = clients.locator("tbody tr").filter({ hasText: "198.51.100.23" });
    const block = row.getByRole("button", { name: "Block 198.51.100.23 for an hour" });
    await row.getByText("Your roles do not include gateway:blocks:write.").waitFor();
    expect(await block.isDisabled()).toBe(true);

    await page.getByRole("button", { name: "Dark theme" }).first().click();
    await expect(page.evaluate<string>("document.documentElement.dataset.theme")).resolves.toBe("dark");
    await page.getByTestId("decisions-chart").waitFor();
    await expect(page.evaluate<boolean>(fitsWidth)).resolves.toBe(true);
    await page.screenshot({ path: join(images, "console-edge-dark-mobile.png") });
  } finally {
    await context.close();
  }
}, 60_000);

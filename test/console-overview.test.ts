// The web console in headless Chromium (Debian's chromium, driven by playwright-core) against a real
// server: signing in with the bootstrap admin token, the overview's framework scores and open
// incidents, a framework's failing control with its item, the PDF report, the dark theme, a role that
// may not run checks, and a token the server stops accepting. Also the hosting itself (CSP, caching,
// deep links) and the size of the JavaScript a first visit loads. Code run in the page is passed as
// strings: the tests are type-checked without the DOM's types.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import Fastify from "fastify";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FrameworkReadiness } from "../src/monitoring/compliance/model.ts";
import type { ComplianceStatus } from "../src/monitoring/compliance/service.ts";
import { newEvent } from "../src/platform/events/index.ts";
import { registerConsole } from "../src/server/console.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const consoleDir = join(repo, "console");
const dist = join(consoleDir, "dist");
const images = join(repo, "docs", "images");

let t: TestServer;
let browser: Browser;
let auditor: string;

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console",
    config: {
      identity: { tokens: { secret: "console-test-secret-0123456789abcdef0123" } },
      rbac: { bindings: [{ role: "auditor", users: ["corp:aud"] }] },
      // A public prod route with no sign-in and no rate limit fails checks both frameworks map.
      routes: [
        { id: "shop", path: "/", upstream: "http://127.0.0.1:9", waf: { mode: "block" } },
        { id: "admin", path: "/admin", upstream: "http://127.0.0.1:9", environment: "prod" },
      ],
      compliance: { enabled: false, frameworks: ["iso27001", "dpdp"] },
    },
  });
  auditor = (await t.apiKeyFor("corp:aud")).key;
  expect((await t.call("POST", "/api/v1/compliance/run", t.admin, {})).status).toBe(200);
  const opened = await t.call("POST", "/api/v1/incidents", t.admin, {
    title: "Credential stuffing against /login",
    priority: "P1",
  });
  expect(opened.status).toBe(201);
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function lightPage(): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    colorScheme: "light",
    acceptDownloads: true,
  });
  return context.newPage();
}

describe("hosting", () => {
  test("/ leads to the console; its HTML carries a strict CSP and is never cached, assets for a year", async () => {
    const root = await fetch(`${t.url}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/console/");
    await root.body?.cancel();

    // A deep link answers the same page, so the console's own routing takes over on reload.
    for (const path of ["/console/", "/console/compliance/iso27001"]) {
      const res = await fetch(`${t.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      const csp = res.headers.get("content-security-policy") ?? "";
      for (const directive of [
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
      ])
        expect(csp).toContain(directive);
      const html = await res.text();
      // script-src 'self' allows no inline script: every script is a file.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(asset).toBeDefined();
      const js = await fetch(`${t.url}${asset}`);
      expect(js.status).toBe(200);
      expect(js.headers.get("content-type")).toContain("javascript");
      expect(js.headers.get("cache-control")).toContain("immutable");
      expect(js.headers.get("cache-control")).toContain("max-age=31536000");
      await js.body?.cancel();
    }
    const missing = await fetch(`${t.url}/console/assets/nothing-here.js`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
    const escape = await fetch(`${t.url}/console/..%2f..%2fpackage.json`);
    expect(await escape.text()).not.toContain('"devDependencies"');
  });

  test("without a build, /console/ says how to build it and / is not redirected", async () => {
    const empty = mkdtempSync(join(tmpdir(), "rampart-console-empty-"));
    const app = Fastify();
    try {
      await registerConsole(app, { dir: empty });
      const page = await app.inject({ method: "GET", url: "/console/compliance" });
      expect(page.statusCode).toBe(404);
      expect(page.json().message).toContain("npm run build:console");
      expect((await app.inject({ method: "GET", url: "/" })).statusCode).toBe(404);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("a first visit loads at most 300 KB of gzipped JavaScript", () => {
    const html = readFileSync(join(dist, "index.html"), "utf8");
    const scripts = [...html.matchAll(/(?:src|href)="\/console\/(assets\/[^"]+\.js)"/g)].map(
      (m) => m[1] as string,
    );
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce(
      (n, s) => n + gzipSync(readFileSync(join(dist, s)), { level: 9 }).length,
      0,
    );
    console.log(`console first-load JavaScript: ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeLessThanOrEqual(300 * 1024);
  });
});

describe("in the browser", () => {
  test("sign in with the admin token, read the overview, open ISO 27001, download its PDF, go dark", async () => {
    const status = (await t.call("GET", "/api/v1/compliance/status", t.admin))
      .json as unknown as ComplianceStatus;
    const iso = (await t.call("GET", "/api/v1/compliance/frameworks/iso27001/report", t.admin))
      .json as unknown as FrameworkReadiness;
    const page = await lightPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().includes("401")) problems.push(m.text());
    });
    try {
      await page.goto(`${t.url}/`);
      expect(new URL(page.url()).pathname).toBe("/console/");
      // The sign-in page renders after the script runs, which may be after the load event.
      await page.getByText("admin.token", { exact: true }).waitFor();
      await expect(page.getByText("admin.token", { exact: true }).count()).resolves.toBe(1);

      // A wrong token is refused with a reason, and nothing is kept.
      await signIn(page, "not-a-real-token");
      await expect(page.getByRole("alert").textContent()).resolves.toMatch(/did not accept/);
      await signIn(page, t.admin);
      await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();

      for (const f of status.frameworks) {
        const ring = page.getByRole("img", {
          name: `${f.name}: ${Math.round(f.summary.score * 100)}% ready`,
        });
        await ring.waitFor();
        await expect(page.getByRole("link", { name: f.name }).count()).resolves.toBe(1);
      }
      await expect(page.getByTestId("open-incidents").textContent()).resolves.toBe("1");
      const worst = status.checks
        .filter((c) => c.counts.failing + c.counts.overdue > 0)
        .sort((a, b) => b.counts.overdue - a.counts.overdue)[0];
      expect(worst).toBeDefined();
      await page
        .getByRole("list", { name: /Checks with/ })
        .getByText(worst?.title ?? "")
        .waitFor();
      await expect(page.getByRole("link", { name: "Overview" }).getAttribute("aria-current")).resolves.toBe(
        "page",
      );
      await page.screenshot({ path: join(images, "console-overview.png") });

      await page
        .getByRole("navigation", { name: "Console" })
        .getByRole("link", { name: "Compliance" })
        .click();
      await page.getByRole("heading", { name: "Compliance", level: 1 }).waitFor();
      await page.getByLabel("Framework").selectOption("iso27001");
      expect(new URL(page.url()).pathname).toBe("/console/compliance/iso27001");
      await page.getByRole("heading", { name: new RegExp(iso.framework.name) }).waitFor();

      // A failing control shows the item that fails it, with what was seen.
      const failing = iso.controls.find((c) => c.status === "failing");
      const item = failing?.checks.flatMap((k) => k.items).find((i) => i.standing === "failing");
      expect(item).toBeDefined();
      const card = page.locator(`[id="control-${failing?.control.id}"]`);
      await expect(card.locator("summary").textContent()).resolves.toContain("Failing");
      const row = card
        .getByRole("row")
        .filter({ hasText: item?.resource ?? "" })
        .first();
      await expect(row.textContent()).resolves.toContain(item?.detail ?? "");
      await page.screenshot({ path: join(images, "console-compliance.png") });

      const [download] = await Promise.all([
        page.waitForEvent("download", { timeout: 60_000 }),
        page.getByRole("button", { name: "Download PDF" }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^iso27001-readiness-.*\.pdf$/);
      const pdf = readFileSync(await download.path());
      expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");

      // The HTML report opens in a new tab (fetched with the token, shown from a blob URL).
      const [report] = await Promise.all([
        page.waitForEvent("popup", { timeout: 30_000 }),
        page.getByRole("button", { name: "Open HTML report" }).click(),
      ]);
      await report.waitForURL(/^blob:/, { timeout: 30_000 });
      await report
        .getByText(item?.resource ?? "")
        .first()
        .waitFor();
      await expect(report.title()).resolves.toContain(iso.framework.name);
      await report.close();

      // Reloading a deep link lands on the same view.
      await page.reload();
      await page.getByRole("heading", { name: new RegExp(iso.framework.name) }).waitFor();

      const bg = () => page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
      const light = await bg();
      const dark = page.getByRole("button", { name: "Dark theme" }).first();
      await expect(dark.getAttribute("aria-pressed")).resolves.toBe("false");
      await dark.click();
      await expect(dark.getAttribute("aria-pressed")).resolves.toBe("true");
      await expect(page.evaluate<string>("document.documentElement.dataset.theme")).resolves.toBe("dark");
      expect(await bg()).not.toBe(light);
      await page.reload();
      await expect(page.evaluate<string>("document.documentElement.dataset.theme")).resolves.toBe("dark");
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  }, 120_000);

  test("an auditor reads everything but may not run checks: the button says so", async () => {
    const page = await lightPage();
    try {
      await page.goto(`${t.url}/console/compliance/dpdp`);
      await signIn(page, auditor);
      await page.getByRole("heading", { name: "Compliance", level: 1 }).waitFor();
      const run = page.getByRole("button", { name: "Run checks now" });
      // The console asked the server what the auditor may do: the button is off before any click.
      await page.getByText("Your roles do not include compliance:run.").waitFor();
      expect(await run.isDisabled()).toBe(true);
      await expect(run.locator("..").getAttribute("title")).resolves.toContain("compliance:run");
    } finally {
      await page.context().close();
    }
  }, 60_000);

  test("a token the server no longer accepts sends the operator back to sign-in", async () => {
    const page = await lightPage();
    try {
      await page.goto(`${t.url}/console/`);
      await page.evaluate('sessionStorage.setItem("rampart.console.token", "revoked-or-expired")');
      await page.reload();
      await page.getByLabel("Admin token or API key").waitFor();
      await expect(
        page.evaluate<string | null>('sessionStorage.getItem("rampart.console.token")'),
      ).resolves.toBeNull();
    } finally {
      await page.context().close();
    }
  }, 60_000);

  test("the overview charts blocks and limits over time from the gateways' decisions", async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const refused = (type: string, client: string, count: number) =>
      newEvent({
        type: `gateway.${type}`,
        time: hourAgo,
        severity: "medium",
        outcome: "denied",
        actor: { kind: "ip", id: client },
        target: { kind: "route", id: "shop" },
        data: { count },
      });
    const bus = t.server.runtime.bus;
    await bus.publish(
      [
        refused("rate_limited", "203.0.113.5", 12),
        refused("rate_limited", "203.0.113.6", 3),
        refused("ip_blocked", "198.51.100.9", 5),
      ],
      { batchId: "console-overview-edge-chart" },
    );
    await bus.flush();
    const page = await lightPage();
    try {
      await page.goto(`${t.url}/console/`);
      await signIn(page, t.admin);
      await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
      const section = page.getByRole("region", { name: "Blocks and limits over time" });
      const chart = section.getByTestId("decisions-chart");
      await chart.waitFor();
      const drawn = (series: string) =>
        page.evaluate<number>(
          `[...document.querySelectorAll('[data-testid="decisions-chart"] rect[data-series="${series}"]')]
            .reduce((n, r) => n + Number(r.getAttribute("data-count")), 0)`,
        );
      expect(await drawn("limits")).toBe(15);
      expect(await drawn("address")).toBe(5);
      await expect(chart.getAttribute("aria-label")).resolves.toBe(
        "Refused requests, last 24 hours: 15 rate limited, 5 address or country refused",
      );
    } finally {
      await page.context().close();
    }
  }, 60_000);
});

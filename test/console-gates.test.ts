// The console's gates page in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real server: a Trivy report, a Kubernetes manifest scan and a Terraform plan scan
// uploaded through the API as `rampart scan … --report-to` uploads them; the page lists the open
// findings overdue first with severity, target, first seen and SLA, counts them per severity, and
// its scanner and severity filters narrow the list. Code run in the page is passed as strings: the
// tests are type-checked without the DOM's types.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { ScanTables } from "../src/appsec/scan/evidence.ts";
import type { ScanResult } from "../src/appsec/scan/types.ts";
import { startTestServer, type TestServer } from "./support/api.ts";
import { gateResults, SCANNED_IMAGE } from "./support/gate-results.ts";
import { ensureConsoleBuilt, fitsWidth, pageProblems, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");
const DAY_MS = 86_400_000;

let t: TestServer;
let browser: Browser;
let overdueRule: string;
let counts: Record<string, number>;

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console-gates",
    config: { identity: { tokens: { secret: "console-gates-secret-0123456789abcdef" } } },
  });
  const { trivy, k8s, iac } = await gateResults(t.work);
  const results: ScanResult[] = [trivy, k8s, iac];
  for (const result of results) {
    const r = await t.call("POST", "/api/v1/scans", t.admin, { source: "shop/web", result });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  }
  counts = {};
  for (const f of results.flatMap((r) => r.findings)) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  // A hundred days pass for one medium CVE (SLA 90 days): the evidence store dates sightings by its
  // own clock, so the test moves the sighting back.
  const medium = trivy.findings.find((f) => f.severity === "medium");
  expect(medium).toBeDefined();
  overdueRule = medium?.rule as string;
  await t.server.runtime.store.db
    .withTables<ScanTables>()
    .updateTable("scan_items")
    .set({ first_seen: new Date(Date.now() - 100 * DAY_MS) })
    .where("fingerprint", "=", medium?.fingerprint as string)
    .execute();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

test("open findings overdue first with SLA, counted per severity, filtered by scanner and severity", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  const page = await context.newPage();
  const problems = pageProblems(page);
  try {
    await page.goto(`${t.url}/console/`);
    await signIn(page, t.admin);
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Gates" }).click();
    await page.getByRole("heading", { name: "Gates", level: 1 }).waitFor();

    const api = (await t.call("GET", "/api/v1/scans/findings", t.admin)).json.findings as {
      kind: string;
      severity: string;
    }[];
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(api.length).toBe(total);
    await page.getByRole("table", { name: "Open findings: all scanners; overdue first" }).waitFor();
    // The caption names the filters; the rows are read from whichever table is shown.
    const rows = page.getByRole("table", { name: /^Open findings: / }).locator("tbody tr");
    await rows.first().waitFor();
    await expect(rows.count()).resolves.toBe(total);
    await expect(page.getByTestId("open-count").textContent()).resolves.toBe(String(total));
    await expect(page.getByTestId("overdue-count").textContent()).resolves.toBe("1 overdue");

    // Overdue first: the old medium CVE, with its target, scanner, first sighting and due date.
    const first = rows.nth(0);
    await expect(first.getAttribute("data-rule")).resolves.toBe(overdueRule);
    await expect(first.textContent()).resolves.toContain("Overdue");
    await expect(first.textContent()).resolves.toContain(SCANNED_IMAGE);
    await expect(first.textContent()).resolves.toContain("Trivy");
    await expect(first.locator("time").first().textContent()).resolves.toBe("100 days ago");
    await expect(first.locator(".sla").textContent()).resolves.toMatch(/10 days ago/);
    // Every other finding with an SLA is within it.
    const rest = await rows.locator(".sla").allTextContents();
    expect(rest.slice(1).some((s) => s.includes("Overdue"))).toBe(false);
    expect(rest.slice(1).filter((s) => s.includes("Within SLA")).length).toBeGreaterThan(0);

    // The chart counts each severity, the numbers written out in its accessible name.
    const chart = page.getByRole("img", { name: /Open findings per severity \(all scanners\)/ });
    const label = (await chart.getAttribute("aria-label")) ?? "";
    for (const [sev, n] of Object.entries(counts)) expect(label).toContain(`${n} ${sev}`);
    expect(label).toContain(`${counts.medium} medium (1 overdue)`);
    await page.screenshot({ path: join(images, "console-gates.png"), fullPage: false });

    // Scanner filter: only Kubernetes findings, and the chart follows.
    await page.getByLabel("Scanner", { exact: true }).selectOption("k8s");
    await page.getByRole("table", { name: /Open findings: Kubernetes; overdue first/ }).waitFor();
    const k8sRows = await rows.locator("td:nth-child(3)").allTextContents();
    expect(k8sRows.length).toBe(api.filter((f) => f.kind === "k8s").length);
    expect(new Set(k8sRows)).toEqual(new Set(["Kubernetes"]));
    await expect(page.getByTestId("overdue-count").textContent()).resolves.toBe("0 overdue");

    // Severity filter on top: IaC high findings only.
    await page.getByLabel("Scanner", { exact: true }).selectOption("iac");
    await page.getByLabel("Severity", { exact: true }).selectOption("high");
    await page.getByRole("table", { name: /Open findings: IaC, high; overdue first/ }).waitFor();
    const wanted = api.filter((f) => f.kind === "iac" && f.severity === "high").length;
    expect(wanted).toBeGreaterThan(0);
    await expect(rows.count()).resolves.toBe(wanted);
    expect(new Set(await rows.locator(".sev-pill").allTextContents())).toEqual(new Set(["high"]));

    // A filter nothing matches says so.
    await page.getByLabel("Scanner", { exact: true }).selectOption("secrets");
    await page.getByText("No open findings match these filters.").waitFor();
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
}, 120_000);

test("on a phone in the dark theme the findings fit the screen", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "light" });
  const page = await context.newPage();
  try {
    await page.goto(`${t.url}/console/gates`);
    await signIn(page, t.admin);
    await page.getByRole("button", { name: "Dark theme" }).click();
    await page
      .getByRole("table", { name: /Open findings/ })
      .locator("tbody tr")
      .first()
      .waitFor();
    await expect(page.getByRole("button", { name: "Dark theme" }).getAttribute("aria-pressed")).resolves.toBe(
      "true",
    );
    expect(await page.evaluate(fitsWidth)).toBe(true);
    await page.screenshot({ path: join(images, "console-gates-dark-mobile.png"), fullPage: false });
  } finally {
    await context.close();
  }
}, 60_000);

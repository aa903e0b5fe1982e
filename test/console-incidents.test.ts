// The console's incidents page in headless Chromium (Debian's chromium, driven by playwright-core)
// against a real server: the open incidents most urgent first with priority, state, age and
// commander; the state filter; one incident's timeline and the playbook run made for it; an auditor
// whose Acknowledge is disabled with the reason before any click; and the admin acknowledging from
// the keyboard, the page showing the new state and the API agreeing. Code run in the page is passed
// as strings: the tests are type-checked without the DOM's types.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startTestServer, type TestServer } from "./support/api.ts";
import { ensureConsoleBuilt, pageProblems, signIn } from "./support/console.ts";

const repo = fileURLToPath(new URL("..", import.meta.url));
const images = join(repo, "docs", "images");

// A playbook of one manual step: running it changes nothing outside the run itself.
const triagePlaybook = `id: triage-checklist
title: Triage a suspected attack
steps:
  - id: triage
    phase: detect
    title: Decide whether it is an attack
    manual: true
    checklist:
      - Read the detection and its events
      - Name a commander
`;

interface IncidentJson {
  id: string;
  state: string;
  acknowledgedAt: string | null;
  timeline: { kind: string; text: string }[];
}

let t: TestServer;
let browser: Browser;
let auditor: string;
let urgent: string;
let minor: string;
let runId: string;

beforeAll(async () => {
  ensureConsoleBuilt();
  t = await startTestServer({
    name: "console-incidents",
    files: { "playbooks/triage-checklist.yaml": triagePlaybook },
    config: (work) => ({
      identity: { tokens: { secret: "console-incidents-secret-0123456789abcdef" } },
      rbac: { bindings: [{ role: "auditor", users: ["corp:aud"] }] },
      playbooks: { dirs: [join(work, "playbooks")] },
    }),
  });
  auditor = (await t.apiKeyFor("corp:aud")).key;

  const open = async (body: Record<string, unknown>) => {
    const r = await t.call("POST", "/api/v1/incidents", t.admin, body);
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json.id as string;
  };
  // Opened first and less urgent, so the list's priority order is not just the API's newest-first.
  minor = await open({ title: "Port scan from a known scanner", priority: "P3" });
  const moved = await t.call("POST", `/api/v1/incidents/${minor}/transition`, t.admin, { to: "contained" });
  expect(moved.status, JSON.stringify(moved.json)).toBe(200);
  urgent = await open({
    title: "Credential stuffing against /login",
    priority: "P1",
    summary: "Many failed sign-ins for different users from a few addresses.",
    commander: "corp:alice",
  });
  const run = await t.call("POST", "/api/v1/playbooks/triage-checklist/run", t.admin, { incident: urgent });
  expect(run.status, JSON.stringify(run.json)).toBe(201);
  runId = run.json.id as string;

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  mkdirSync(images, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function lightPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "light" });
  return context.newPage();
}

const incident = async (id: string) =>
  (await t.call("GET", `/api/v1/incidents/${id}`, t.admin)).json as unknown as IncidentJson;

test("an auditor reads an incident but may not acknowledge it: the button says why", async () => {
  const page = await lightPage();
  try {
    await page.goto(`${t.url}/console/incidents/${urgent}`);
    await signIn(page, auditor);
    await page.getByRole("heading", { name: "Credential stuffing against /login", level: 1 }).waitFor();
    const ack = page.getByRole("button", { name: "Acknowledge" });
    // The console asked the server what the auditor may do: the button is off before any click.
    await page.getByText("Your roles do not include incidents:write.").waitFor();
    expect(await ack.isDisabled()).toBe(true);
    await expect(ack.getAttribute("aria-describedby")).resolves.toBe("ack-why");
    await expect(ack.locator("..").getAttribute("title")).resolves.toContain("incidents:write");
    const after = await incident(urgent);
    expect(after.state).toBe("detected");
    expect(after.acknowledgedAt).toBeNull();
  } finally {
    await page.context().close();
  }
}, 60_000);

test("the admin lists open incidents, filters by state, opens one and acknowledges it", async () => {
  const page = await lightPage();
  const problems = pageProblems(page);
  try {
    await page.goto(`${t.url}/console/`);
    await signIn(page, t.admin);
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Incidents" }).click();
    await page.getByRole("heading", { name: "Incidents", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/console/incidents");

    // Most urgent first, each with its priority, state, age and commander.
    const table = page.getByRole("table", { name: /Incidents: open/ });
    const rows = table.locator("tbody tr");
    await rows.filter({ hasText: urgent }).waitFor();
    await rows.filter({ hasText: minor }).waitFor();
    expect(await rows.count()).toBe(2);
    const first = rows.nth(0);
    await expect(first.textContent()).resolves.toContain("Credential stuffing against /login");
    await expect(first.locator(".prio-pill").textContent()).resolves.toBe("P1");
    await expect(first.locator("[data-state]").textContent()).resolves.toBe("Detected");
    await expect(first.locator("time").textContent()).resolves.toMatch(/ago|now/);
    await expect(first.textContent()).resolves.toContain("corp:alice");
    const second = rows.nth(1);
    await expect(second.locator(".prio-pill").textContent()).resolves.toBe("P3");
    await expect(second.locator("[data-state]").textContent()).resolves.toBe("Contained");
    await expect(second.textContent()).resolves.toContain("unassigned");

    // The state filter asks the API again: only the contained one is left.
    await page.getByLabel("State").selectOption("contained");
    // Wait for the new answer, not the frame that still shows the old rows.
    await page
      .getByRole("link", { name: "Credential stuffing against /login" })
      .waitFor({ state: "detached" });
    const contained = page.getByRole("table", { name: /Incidents: contained/ }).locator("tbody tr");
    await contained.filter({ hasText: "Port scan from a known scanner" }).waitFor();
    await expect(contained.count()).resolves.toBe(1);
    await page.getByLabel("State").selectOption("open");
    await page.getByRole("link", { name: "Credential stuffing against /login" }).click();

    // The incident: facts, the timeline oldest first, the playbook run made for it.
    await page.getByRole("heading", { name: "Credential stuffing against /login", level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/console/incidents/${urgent}`);
    const state = page.getByTestId("incident-state");
    await expect(state.textContent()).resolves.toBe("Detected");
    await page.getByText("Many failed sign-ins for different users from a few addresses.").waitFor();
    const timeline = page
      .getByRole("table", { name: `Timeline of ${urgent}, oldest first` })
      .locator("tbody tr");
    await expect(timeline.first().textContent()).resolves.toContain(
      "opened as P1: Credential stuffing against /login",
    );
    const runs = page.getByRole("table", { name: /Playbook runs for this incident/ });
    const runRow = runs.locator("tbody tr").filter({ hasText: "triage-checklist" });
    await runRow.waitFor();
    await expect(runRow.textContent()).resolves.toContain("Waiting");
    await expect(runRow.textContent()).resolves.toContain("1 waiting for a person");
    const listed = (await t.call("GET", `/api/v1/playbook-runs?incident=${urgent}`, t.admin)).json;
    expect((listed.runs as { id: string }[]).map((r) => r.id)).toEqual([runId]);

    // Acknowledge from the keyboard.
    const before = await timeline.count();
    const ack = page.getByRole("button", { name: "Acknowledge" });
    expect(await ack.isEnabled()).toBe(true);
    await ack.focus();
    await page.keyboard.press("Enter");
    await page.getByRole("status").filter({ hasText: "Acknowledged; the incident is triaged." }).waitFor();
    await page.getByTestId("incident-state").getByText("Triaged", { exact: true }).waitFor();
    await timeline.nth(before).waitFor();
    await expect(timeline.last().textContent()).resolves.toContain("detected → triaged: acknowledged");
    await expect(timeline.last().textContent()).resolves.toContain("token:admin");
    expect(await ack.isDisabled()).toBe(true);
    await expect(ack.locator("..").getAttribute("title")).resolves.toMatch(/^Already acknowledged/);

    const after = await incident(urgent);
    expect(after.state).toBe("triaged");
    expect(after.acknowledgedAt).not.toBeNull();
    expect(after.timeline.at(-1)?.text).toBe("detected → triaged: acknowledged");
    await page.screenshot({ path: join(images, "console-incidents.png"), fullPage: false });

    // Reloading the deep link shows the acknowledged incident, with the reason on the button.
    await page.reload();
    await page.getByTestId("incident-state").getByText("Triaged", { exact: true }).waitFor();
    await page.getByText(/^Already acknowledged/).waitFor();
    expect(problems).toEqual([]);
  } finally {
    await page.context().close();
  }
}, 120_000);

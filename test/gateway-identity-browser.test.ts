// One journey in headless Chromium (Debian's chromium, driven by playwright-core): a protected page
// sends the browser to the provider's login form; signed in, it lands on the page it asked for;
// logging out signs it out at the gateway and at the provider.
import { createServer } from "node:http";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { rampartConfigSchema } from "../src/config/index.ts";
import type { Gateway } from "../src/network/gateway/proxy.ts";
import {
  corpProvider,
  rampartClient,
  TOKENS_SECRET,
  startConfiguredGateway,
} from "./support/identity-gateway.ts";
import { startTestIdp, type TestIdp } from "./support/oidc-provider.ts";
import { freePort, listenLocal } from "./support/services.ts";

// The upstream greets whoever the gateway says is asking.
const app = createServer((req, res) => {
  res.setHeader("content-type", "text/html; charset=utf-8");
  const who = req.headers["x-rampart-user"];
  res.end(
    who
      ? `<!doctype html><title>Dashboards</title><h1>Dashboards for ${String(who)}</h1><p>${req.url}</p>`
      : "<!doctype html><title>Home</title><h1>Public home</h1>",
  );
});

let idp: TestIdp;
let gw: Gateway;

beforeAll(async () => {
  const upstream = await listenLocal(app);
  const port = await freePort();
  idp = await startTestIdp({
    clients: [rampartClient(`http://127.0.0.1:${port}`)],
    users: [{ sub: "alice", email: "alice@example.com", email_verified: true, groups: ["sre"] }],
  });
  const config = rampartConfigSchema.parse({
    version: 1,
    gateway: { port },
    identity: { providers: [corpProvider(idp.issuer)], tokens: { secret: TOKENS_SECRET } },
    routes: [
      {
        path: "/grafana",
        upstream,
        auth: { provider: "corp" },
        policy: { rules: [{ allow: { groups: ["sre"] } }] },
      },
      { path: "/", upstream },
    ],
  });
  gw = await startConfiguredGateway(config);
});

afterAll(async () => {
  await gw?.close();
  await idp?.close();
  app.close();
});

test("headless Chromium signs in at the provider, sees the protected page, then logs out everywhere", async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Cookies are kept per host, not per port: the provider's own sit beside ours on 127.0.0.1.
    const rampartCookies = async () =>
      (await context.cookies(gw.url)).filter((c) => c.name.includes("rampart_"));
    await page.goto(`${gw.url}/grafana/d/overview?refresh=30s`);
    // The provider's login form, not the dashboard.
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await page.locator("input[name=login]").fill("alice");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboards for corp:alice" }).waitFor({ timeout: 15_000 });
    expect(page.url()).toBe(`${gw.url}/grafana/d/overview?refresh=30s`);
    expect(await rampartCookies()).toEqual([
      expect.objectContaining({ name: "rampart_session", httpOnly: true, sameSite: "Lax" }),
    ]);

    await page.goto(`${gw.url}/.rampart/sso/logout`);
    // The provider asks to confirm ending its own session too, then sends the browser home.
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await page.getByRole("button", { name: /yes, sign me out/i }).click();
    await page.getByRole("heading", { name: "Public home" }).waitFor({ timeout: 15_000 });
    expect(page.url()).toBe(`${gw.url}/`);
    expect(await rampartCookies()).toEqual([]);

    // Signed out at both ends: the protected page asks for the login form again.
    await page.goto(`${gw.url}/grafana/`);
    expect(new URL(page.url()).origin).toBe(idp.issuer);
    await expect(page.locator("input[name=login]").count()).resolves.toBe(1);
  } finally {
    await browser.close();
  }
}, 60_000);

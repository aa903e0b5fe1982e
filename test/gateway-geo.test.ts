// Geo-blocking with the bundled DB-IP Lite database: countries allowed or denied per route, the EU
// group, and the policy for addresses without a country.
import { createServer } from "node:http";
import { afterAll, beforeAll, expect, test } from "vitest";
import { gatewayConfigSchema, routeConfigSchema } from "../src/config/index.ts";
import { bundledDatabase, openCountryLookup } from "../src/network/gateway/geo.ts";
import { type Gateway, startGateway } from "../src/network/gateway/proxy.ts";
import { listenLocal } from "./support/services.ts";

let gw: Gateway;
const app = createServer((_req, res) => res.end("ok"));

beforeAll(async () => {
  const upstream = await listenLocal(app);
  gw = await startGateway({
    gateway: gatewayConfigSchema.parse({ port: 0, trustedProxies: ["127.0.0.1"] }),
    routes: [
      { path: "/in", upstream, geo: { allow: ["IN"] } },
      { path: "/eu", upstream, geo: { allow: ["EU"], unknownCountries: "deny" } },
      { path: "/", upstream, geo: { deny: ["US"] } },
    ].map((r) => routeConfigSchema.parse(r)),
  });
});
afterAll(async () => {
  await gw.close();
  app.close();
});

const from = async (ip: string, path: string) =>
  (await fetch(`${gw.url}${path}`, { headers: { "x-forwarded-for": ip } })).status;

test("the bundled database knows countries for IPv4 and IPv6, and none for private ranges", async () => {
  const lookup = await openCountryLookup(bundledDatabase());
  expect(lookup.country("8.8.8.8")).toBe("US");
  expect(lookup.country("81.2.69.142")).toBe("GB");
  expect(lookup.country("49.44.0.1")).toBe("IN");
  expect(lookup.country("2001:4860:4860::8888")).toMatch(/^[A-Z]{2}$/);
  expect(lookup.country("10.1.2.3")).toBeUndefined();
  expect(lookup.country("not an ip")).toBeUndefined();
});

test("routes admit or refuse by country, with EU as a group and a policy for the unknown", async () => {
  expect(await from("49.44.0.1", "/in/shop")).toBe(200); // IN
  expect(await from("8.8.8.8", "/in/shop")).toBe(403); // US
  expect(await from("5.9.0.1", "/eu/app")).toBe(200); // DE
  expect(await from("62.210.0.1", "/eu/app")).toBe(200); // FR
  expect(await from("81.2.69.142", "/eu/app")).toBe(403); // GB is not in the EU
  expect(await from("10.1.2.3", "/eu/app")).toBe(403); // no country: denied here
  expect(await from("10.1.2.3", "/in/shop")).toBe(200); // no country: allowed by default
  expect(await from("8.8.8.8", "/anything")).toBe(403);
  expect(await from("81.2.69.142", "/anything")).toBe(200);
  const res = await fetch(`${gw.url}/in/shop`, {
    headers: { "x-forwarded-for": "8.8.8.8", accept: "application/json" },
  });
  expect(await res.json()).toMatchObject({
    error: { message: "requests from your country are not allowed here" },
  });
});

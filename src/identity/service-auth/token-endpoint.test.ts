import { afterEach, describe, expect, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { createMemoryHotState } from "../../platform/hotstate/index.ts";
import { BILLING_SECRET, billingAccounts, replica } from "./testing.ts";

const form = { "content-type": "application/x-www-form-urlencoded" };
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers) await c();
  closers = [];
});

async function setup(accounts = billingAccounts()) {
  const clock = manualClock("2026-05-01T12:00:00Z");
  const hotState = createMemoryHotState({ clock });
  const r = await replica(hotState, clock, accounts);
  closers.push(r.close, () => hotState.close());
  const post = (body: string, headers: Record<string, string> = {}, ip = "198.51.100.7") =>
    r.endpoint.handleTokenRequest({ method: "POST", headers: { ...form, ...headers }, body, ip });
  return { ...r, clock, hotState, post };
}

describe("token endpoint (client credentials)", () => {
  it("issues a Bearer access token with client_secret_basic that the gateway accepts", async () => {
    const { post, accessTokens, events } = await setup();
    const res = await post("grant_type=client_credentials&scope=invoices%3Aread", {
      authorization: basic("billing", BILLING_SECRET),
    });
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.json).toMatchObject({ token_type: "Bearer", expires_in: 600, scope: "invoices:read" });
    const identity = await accessTokens.verifyAccessToken(res.json.access_token as string);
    expect(identity).toMatchObject({
      kind: "service",
      subject: "billing",
      roles: ["billing-writer"],
      credential: "access-token",
      claims: { scope: "invoices:read", aud: "rampart" },
    });
    expect(events.map((e) => e.type)).toEqual(["identity.token_issued"]);
    expect(JSON.stringify(events)).not.toContain(BILLING_SECRET);
    expect(JSON.stringify(events)).not.toContain(res.json.access_token as string);
  });

  it("accepts client_secret_post and grants every allowed scope when none is asked", async () => {
    const { post } = await setup();
    const res = await post(
      `grant_type=client_credentials&client_id=billing&client_secret=${encodeURIComponent(BILLING_SECRET)}`,
    );
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe("invoices:read invoices:write");
  });

  it("answers RFC 6749 §5.2 errors", async () => {
    const { post, endpoint } = await setup();
    const auth = { authorization: basic("billing", BILLING_SECRET) };
    const cases: Array<
      [
        Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, string> }>,
        number,
        string,
      ]
    > = [
      [post("grant_type=client_credentials"), 401, "invalid_client"],
      [
        post("grant_type=client_credentials", { authorization: basic("billing", "wrong") }),
        401,
        "invalid_client",
      ],
      [post("grant_type=password", auth), 400, "unsupported_grant_type"],
      [post("scope=invoices%3Aread", auth), 400, "invalid_request"],
      [post("grant_type=client_credentials&scope=admin", auth), 400, "invalid_scope"],
      [post("grant_type=client_credentials&grant_type=client_credentials", auth), 400, "invalid_request"],
      [post(`grant_type=client_credentials&client_secret=${BILLING_SECRET}`, auth), 400, "invalid_request"],
      [post("grant_type=client_credentials&client_id=other", auth), 400, "invalid_request"],
      [
        endpoint.handleTokenRequest({
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: "{}",
          ip: "198.51.100.7",
        }),
        400,
        "invalid_request",
      ],
      [
        endpoint.handleTokenRequest({ method: "GET", headers: auth, body: "", ip: "198.51.100.7" }),
        405,
        "invalid_request",
      ],
    ];
    for (const [p, status, error] of cases) {
      const res = await p;
      expect([res.status, res.json.error]).toEqual([status, error]);
      expect(res.headers["cache-control"]).toBe("no-store");
    }
  });

  it("refuses malformed Authorization headers", async () => {
    const { post } = await setup();
    for (const authorization of [
      "Bearer abc",
      "Basic",
      "Basic !!!",
      `Basic ${Buffer.from("no-colon").toString("base64")}`,
      `Basic ${Buffer.from(":secret").toString("base64")}`,
      `Basic ${Buffer.from("billing:%zz").toString("base64")}`,
      `${basic("billing", BILLING_SECRET)}, Basic x`,
    ]) {
      const res = await post("grant_type=client_credentials", { authorization });
      expect(res.status, authorization).toBe(401);
      expect(res.json.error).toBe("invalid_client");
      expect(res.headers["www-authenticate"]).toMatch(/^Basic /);
    }
  });

  it("refuses a secret that was rotated out of the account", async () => {
    const old = "the-old-secret-that-leaked-in-a-ci-log-000000";
    const before = await setup(billingAccounts([old, BILLING_SECRET]));
    const ok = await before.post("grant_type=client_credentials", { authorization: basic("billing", old) });
    expect(ok.status).toBe(200);
    // Config reloaded without the old hash: the same request, replayed, fails.
    const after = await setup(billingAccounts([BILLING_SECRET]));
    const replayed = await after.post("grant_type=client_credentials", {
      authorization: basic("billing", old),
    });
    expect(replayed.status).toBe(401);
    expect(
      (await after.post("grant_type=client_credentials", { authorization: basic("billing", BILLING_SECRET) }))
        .status,
    ).toBe(200);
  });

  it("locks a client id out after repeated failures, with doubling backoff, even for the right secret", async () => {
    const { post, clock, events } = await setup();
    const wrong = { authorization: basic("billing", "guess") };
    const right = { authorization: basic("billing", BILLING_SECRET) };
    for (let i = 0; i < 4; i++)
      expect((await post("grant_type=client_credentials", wrong, `203.0.113.${i}`)).status).toBe(401);
    expect((await post("grant_type=client_credentials", wrong, "203.0.113.50")).status).toBe(401); // 5th: locks 1 s
    const locked = await post("grant_type=client_credentials", right, "203.0.113.51");
    expect(locked.status).toBe(429);
    expect(locked.headers["retry-after"]).toBe("1");
    clock.advance(1000);
    expect((await post("grant_type=client_credentials", wrong, "203.0.113.52")).status).toBe(401); // 6th: locks 2 s
    clock.advance(1000);
    expect((await post("grant_type=client_credentials", right, "203.0.113.53")).status).toBe(429);
    clock.advance(1000);
    expect((await post("grant_type=client_credentials", right, "203.0.113.54")).status).toBe(200);
    expect(events.filter((e) => e.type === "identity.client_locked_out").map((e) => e.data.lockMs)).toEqual([
      1000, 2000,
    ]);
    expect(events.filter((e) => e.type === "identity.client_auth_failed")).toHaveLength(8);
    expect(JSON.stringify(events)).not.toContain("guess");
  });

  it("locks out an IP spraying client ids, known or not", async () => {
    const { post } = await setup();
    for (let i = 0; i < 20; i++) {
      const res = await post(
        "grant_type=client_credentials",
        { authorization: basic(`svc-${i}`, "x") },
        "192.0.2.9",
      );
      expect(res.status).toBe(401);
    }
    const res = await post(
      "grant_type=client_credentials",
      { authorization: basic("billing", BILLING_SECRET) },
      "192.0.2.9",
    );
    expect(res.status).toBe(429);
    const elsewhere = await post(
      "grant_type=client_credentials",
      { authorization: basic("billing", BILLING_SECRET) },
      "192.0.2.10",
    );
    expect(elsewhere.status).toBe(200);
  });
});

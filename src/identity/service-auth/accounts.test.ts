import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Invalid } from "../../platform/errors.ts";
import { createServiceAccounts, generateClientSecret, hashClientSecret } from "./accounts.ts";

describe("service accounts", () => {
  it("hash client secrets the way sha256sum does", () => {
    const secret = generateClientSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const sum = execFileSync("sha256sum", { input: secret }).toString().split(" ")[0];
    expect(hashClientSecret(secret)).toBe(`sha256:${sum}`);
  });

  it("accept any of several secrets, so a secret can rotate without downtime", () => {
    const accounts = createServiceAccounts([
      {
        name: "ci",
        roles: ["deployer"],
        secretHashes: [hashClientSecret("old-secret"), hashClientSecret("new-secret")],
      },
    ]);
    expect(accounts.checkSecret("ci", "old-secret")).toBe(true);
    expect(accounts.checkSecret("ci", "new-secret")).toBe(true);
    expect(accounts.checkSecret("ci", "other")).toBe(false);
    expect(accounts.checkSecret("nobody", "old-secret")).toBe(false);
    expect(accounts.get("ci")).toMatchObject({
      name: "ci",
      roles: ["deployer"],
      scopes: [],
      description: "",
    });
  });

  it("never accept a secret for an account without secret hashes", () => {
    const accounts = createServiceAccounts([{ name: "mtls-only" }]);
    expect(accounts.checkSecret("mtls-only", "")).toBe(false);
  });

  it("refuse bad definitions, saying where", () => {
    const where = (config: unknown) => {
      try {
        createServiceAccounts(config);
      } catch (e) {
        expect(e).toBeInstanceOf(Invalid);
        return (e as Invalid).where;
      }
      throw new Error("accepted");
    };
    expect(where([{ name: "Bad Name" }])).toBe("identity.serviceAccounts.0.name");
    expect(where([{ name: "ok", secretHashes: ["plaintext-secret"] }])).toBe(
      "identity.serviceAccounts.0.secretHashes.0",
    );
    expect(where([{ name: "ok" }, { name: "ok" }])).toBe("identity.serviceAccounts.1.name");
    expect(where([{ name: "ok", extra: 1 }])).toBe("identity.serviceAccounts.0");
  });
});

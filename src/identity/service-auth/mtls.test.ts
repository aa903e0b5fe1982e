import { describe, expect, it } from "vitest";
import { Invalid } from "../../platform/errors.ts";
import type { ClientCertificate } from "../types.ts";
import { createServiceAccounts } from "./accounts.ts";
import { createCertificateIdentities } from "./mtls.ts";

const accounts = createServiceAccounts([{ name: "billing", roles: ["billing-writer"] }]);
const fp = "ab".repeat(32);
const cert = (c: Partial<ClientCertificate>): ClientCertificate => ({
  subject: "CN=unknown",
  fingerprint: "00".repeat(32),
  san: [],
  ...c,
});

describe("client certificate identities", () => {
  const mapped = createCertificateIdentities(
    [
      { fingerprint: fp.toUpperCase().match(/../g)!.join(":"), service: "billing" },
      { san: "URI:spiffe://prod/billing", service: "billing" },
      { san: "email:alice@example.com", user: "corp-ca:alice", groups: ["eng"] },
      { subject: "CN=build-agent,O=Example", user: "corp-ca:build-agent" },
    ],
    { accounts },
  );

  it("maps by fingerprint (any case or colons in config), SAN or subject", () => {
    expect(mapped.identityFor(cert({ fingerprint: fp }))).toMatchObject({
      kind: "service",
      subject: "billing",
      roles: ["billing-writer"],
      credential: "client-certificate",
      claims: { certificate: { fingerprint: fp } },
    });
    expect(mapped.identityFor(cert({ san: ["DNS:x.example", "URI:spiffe://prod/billing"] }))?.subject).toBe(
      "billing",
    );
    expect(mapped.identityFor(cert({ san: ["email:alice@example.com"] }))).toMatchObject({
      kind: "user",
      subject: "corp-ca:alice",
      groups: ["eng"],
      roles: [],
    });
    expect(mapped.identityFor(cert({ subject: "CN=build-agent,O=Example" }))?.subject).toBe(
      "corp-ca:build-agent",
    );
  });

  it("gives no identity to an unmapped certificate, or to near misses", () => {
    expect(mapped.identityFor(cert({}))).toBeUndefined();
    expect(mapped.identityFor(cert({ subject: "CN=build-agent,O=Example,OU=x" }))).toBeUndefined();
    expect(mapped.identityFor(cert({ subject: "cn=build-agent,o=example" }))).toBeUndefined();
    expect(mapped.identityFor(cert({ san: ["URI:spiffe://prod/billing/extra"] }))).toBeUndefined();
    expect(mapped.identityFor(cert({ san: ["DNS:spiffe://prod/billing"] }))).toBeUndefined();
  });

  it("prefers the most specific rule", () => {
    const both = createCertificateIdentities(
      [
        { subject: "CN=shared", user: "corp-ca:someone" },
        { fingerprint: fp, service: "billing" },
      ],
      { accounts },
    );
    expect(both.identityFor(cert({ subject: "CN=shared", fingerprint: fp }))?.subject).toBe("billing");
  });

  it("refuses ambiguous or dangling rules at load", () => {
    const bad: unknown[] = [
      [{ fingerprint: fp, subject: "CN=x", service: "billing" }],
      [{ subject: "CN=x" }],
      [{ subject: "CN=x", service: "billing", user: "a:b" }],
      [{ fingerprint: "1234", service: "billing" }],
      [{ subject: "CN=x", service: "nobody" }],
      [
        { subject: "CN=x", service: "billing" },
        { subject: "CN=x", user: "a:b" },
      ],
    ];
    for (const config of bad)
      expect(() => createCertificateIdentities(config, { accounts }), JSON.stringify(config)).toThrow(
        Invalid,
      );
  });
});

// `rampart identity`: API keys and revocation through the running control plane, and the offline
// helper that turns a client secret into the `sha256:…` form service accounts list.
import type { Command } from "commander";
import { hashClientSecret } from "../identity/service-auth/index.ts";
import { apiFor, type Common, commonOptions, durationSeconds, print } from "./access.ts";

interface ApiKey {
  id: string;
  kind: string;
  subject: string;
  scopes: string[];
  expiresAt: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

type Whose = { service?: string; user?: string };

function owner(o: Whose): { kind: "service" | "user"; subject: string } {
  if ((o.service === undefined) === (o.user === undefined))
    throw new Error("name the key's owner with exactly one of --service NAME or --user SUBJECT");
  return o.service !== undefined
    ? { kind: "service", subject: o.service }
    : { kind: "user", subject: o.user as string };
}

const keyLine = (k: ApiKey) =>
  `  ${k.id}  ${k.kind} ${k.subject}  scopes: ${k.scopes.join(" ") || "-"}  ` +
  (k.revokedAt ? `revoked ${k.revokedAt}` : `expires ${k.expiresAt}`) +
  (k.lastUsedAt ? `  last used ${k.lastUsedAt}` : "");

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function registerIdentityCommands(program: Command): void {
  const identity = program
    .command("identity")
    .description("API keys, revocation of a user or service everywhere, client-secret hashes");
  const apiKey = identity.command("api-key").description("API keys for service accounts and users");

  commonOptions(apiKey.command("create"))
    .description("create an API key; it is printed once and never shown again")
    .option("--service <name>", "for this service account")
    .option("--user <subject>", "for this person (<provider>:<sub>)")
    .option(
      "--scope <scope>",
      "a scope the key carries (repeat for more)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .requiredOption("--ttl <duration>", "how long it lives: 30d, 12h (at most 365d)")
    .option("--description <text>", "what the key is for")
    .action(async (o: Common & Whose & { scope: string[]; ttl: string; description?: string }) => {
      const body = {
        ...owner(o),
        scopes: o.scope,
        ttlSeconds: durationSeconds(o.ttl, "--ttl"),
        ...(o.description !== undefined ? { description: o.description } : {}),
      };
      const { key, apiKey: k } = await (
        await apiFor(o)
      )<{ key: string; apiKey: ApiKey }>("POST", "/api/v1/identity/api-keys", body);
      print(o, { key, apiKey: k }, `${key}\n\nstore this key now: it is not shown again\n${keyLine(k)}`);
    });

  commonOptions(apiKey.command("list"))
    .description("API keys of a service account or user (default: your own), never the keys themselves")
    .option("--service <name>", "of this service account")
    .option("--user <subject>", "of this person")
    .action(async (o: Common & Whose) => {
      const subject = o.service ?? o.user;
      const q = subject ? `?subject=${encodeURIComponent(subject)}` : "";
      const { apiKeys } = await (
        await apiFor(o)
      )<{ apiKeys: ApiKey[] }>("GET", `/api/v1/identity/api-keys${q}`);
      print(o, apiKeys, apiKeys.length === 0 ? "no API keys" : apiKeys.map(keyLine).join("\n"));
    });

  commonOptions(apiKey.command("revoke <id>"))
    .description("revoke an API key on every gateway at once")
    .action(async (id: string, o: Common) => {
      const k = await (
        await apiFor(o)
      )<ApiKey>("DELETE", `/api/v1/identity/api-keys/${encodeURIComponent(id)}`);
      print(o, k, `revoked\n${keyLine(k)}`);
    });

  commonOptions(identity.command("revoke <subject>"))
    .description("end a user's or service's sessions, access tokens, API keys and JIT grants everywhere")
    .requiredOption("--reason <text>", "why, for the audit log (an incident id helps)")
    .action(async (subject: string, o: Common & { reason: string }) => {
      const r = await (
        await apiFor(o)
      )<{ subject: string; sessions: number; grants: string[] }>("POST", "/api/v1/identity/revocations", {
        subject,
        reason: o.reason,
      });
      print(
        o,
        r,
        `revoked ${r.subject}: ${r.sessions} session(s) ended, ${r.grants.length} grant(s) revoked, every token and key issued until now refused`,
      );
    });

  identity
    .command("hash-secret")
    .description(
      "read a client secret on stdin and print its sha256:… hash for identity.serviceAccounts[].secretHashes",
    )
    .option("--json", "machine-readable output")
    .action(async (o: { json?: boolean }) => {
      // One trailing newline is what `echo` and editors add; the secret itself is the rest.
      const secret = (await readStdin()).replace(/\r?\n$/, "");
      if (secret.length === 0)
        throw new Error("hash-secret: no secret on stdin (pipe it in: rampart identity hash-secret < file)");
      const hash = hashClientSecret(secret);
      console.log(o.json ? JSON.stringify({ hash }) : hash);
    });
}

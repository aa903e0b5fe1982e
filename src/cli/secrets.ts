// `rampart secrets`: the secrets store through the running control plane's API (values, versions,
// seal, keys, backup, incident response), and `init`, which splits a new root key offline.
// Values never come from argv unless typed there: `k=-` and `unseal` read stdin.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  initShamir,
  type SecretMetadata as Metadata,
  type SecretValue,
  type SecretVersionInfo as VersionInfo,
} from "../appsec/secrets/index.ts";
import { defaultConfig, loadConfig } from "../config/index.ts";
import { openStore } from "../platform/store/index.ts";
import { migrations } from "../server/runtime.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";
import { registerSecretsK8sCommands } from "./secrets-k8s.ts";
import { registerSecretsRunCommand } from "./secrets-run.ts";

interface Status {
  open: boolean;
  sealed: boolean;
  provider?: string;
  kekVersion?: number;
  unseal?: { submitted: number; threshold: number };
  problem?: string;
}

interface Reader {
  actor: string;
  reads: number;
  versions: number[];
  firstAt: string;
  lastAt: string;
}

/** The API URL of a secret path for one operation (`data`, `metadata`, `delete`…). */
const at = (op: string, path: string) => {
  if (!path.startsWith("/")) throw new Error(`expected a path such as /prod/api/db, got '${path}'`);
  return `/api/v1/secrets/${op}${path.split("/").map(encodeURIComponent).join("/")}`;
};

function positiveInt(v: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(v)) throw new InvalidArgumentError("expected a whole number >= 1");
  return Number(v);
}

function versionList(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  if (parts.some((p) => !/^[1-9][0-9]{0,9}$/.test(p)))
    throw new InvalidArgumentError("expected version numbers separated by commas, e.g. 1,2");
  return parts.map(Number);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** One line typed at a terminal without echo (raw mode), or the whole of piped stdin. */
async function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readStdin();
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((done, fail) => {
      let typed = "";
      stdin.on("data", (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return done(typed);
          if (ch === "\u0003") return fail(new Error("unseal: interrupted"));
          typed = ch === "\u007f" ? typed.slice(0, -1) : typed + ch;
        }
      });
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}

/** `k=v` pairs, a JSON file, and at most one `k=-` whose value is stdin (one trailing newline dropped). */
async function valuesOf(pairs: string[], fromFile: string | undefined): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  if (fromFile) {
    const parsed = JSON.parse(readFileSync(fromFile, "utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error(`--from-file: ${fromFile} must hold a JSON object of string values`);
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== "string")
        throw new Error(`--from-file: the value of ${k} in ${fromFile} is not a string`);
      data[k] = v;
    }
  }
  let fromStdin: string | undefined;
  for (const pair of pairs) {
    const i = pair.indexOf("=");
    if (i < 1)
      throw new Error(
        `expected key=value (or key=- to read the value from stdin), got '${pair.slice(0, 40)}'`,
      );
    const key = pair.slice(0, i);
    const value = pair.slice(i + 1);
    if (value === "-") {
      if (fromStdin !== undefined) throw new Error(`only one key can read stdin; ${fromStdin} already does`);
      fromStdin = key;
      data[key] = (await readStdin()).replace(/\r?\n$/, "");
    } else data[key] = value;
  }
  if (Object.keys(data).length === 0)
    throw new Error("nothing to write: give key=value pairs or --from-file");
  return data;
}

const historyTable = (m: Metadata) => {
  const rows = m.versions.map((v) => [
    String(v.version),
    v.state,
    v.createdAt,
    v.createdBy,
    v.rolledBackFrom ? `rollback of ${v.rolledBackFrom}` : v.endedAt ? `${v.state} ${v.endedAt}` : "",
  ]);
  const head = ["VERSION", "STATE", "CREATED", "BY", "NOTE"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  const about = [
    `${m.path}: current version ${m.currentVersion}, keeps ${m.maxVersions}`,
    m.owner ? `owner ${m.owner}` : "",
    m.rotator
      ? `rotated by ${m.rotator}${m.rotationPeriodDays ? ` every ${m.rotationPeriodDays}d` : ""}`
      : "",
    m.expiresAt ? `expires ${m.expiresAt}` : "",
  ]
    .filter(Boolean)
    .join("; ");
  return [about, line(head), ...rows.map(line)].join("\n");
};

const statusText = (s: Status) => {
  if (!s.open) return `the secrets store is not open: ${s.problem ?? "see the server log"}`;
  const seal = s.sealed
    ? `sealed${s.unseal ? ` (${s.unseal.submitted} of ${s.unseal.threshold || "?"} shares submitted)` : ""}: unseal it with \`rampart secrets unseal\``
    : "unsealed";
  return `${seal}\nroot key: ${s.provider}\nkey-encryption key: version ${s.kekVersion}`;
};

/** Registers `rampart secrets` and its subcommands (with `run` and `k8s`). */
export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command("secrets")
    .description(
      "the secrets store: read and write versioned secrets, unseal, rotate keys, back up, investigate (through the running server)",
    );
  const api = (o: Common) => apiFor(o);

  commonOptions(secrets.command("get <path>"))
    .description("print a secret's newest version (or --version N)")
    .option("--version <n>", "this version instead of the newest", positiveInt)
    .option("--key <key>", "print only this key's value, nothing else")
    .action(async (path: string, o: Common & { version?: number; key?: string }) => {
      const q = o.version ? `?version=${o.version}` : "";
      const s = await (await api(o))<SecretValue>("GET", `${at("data", path)}${q}`);
      if (o.key !== undefined) {
        const value = s.data[o.key];
        if (value === undefined)
          throw new Error(
            `${path} version ${s.version} has no key ${o.key} (keys: ${Object.keys(s.data).join(", ")})`,
          );
        print(o, { [o.key]: value }, value);
        return;
      }
      const lines = Object.entries(s.data).map(([k, v]) => `${k}=${v}`);
      print(o, s, [`# ${s.path} version ${s.version} (${s.createdAt})`, ...lines].join("\n"));
    });

  commonOptions(secrets.command("put <path> [pairs...]"))
    .description(
      "write a new version from key=value pairs; key=- reads that value from stdin (nothing in shell history)",
    )
    .option("--from-file <file>", "a JSON object of string values to write (pairs given too override it)")
    .option(
      "--cas <n>",
      "write only if the current version is n (0: only if the path is new)",
      (v: string) => {
        if (!/^[0-9]{1,10}$/.test(v))
          throw new InvalidArgumentError("expected a version number (0 for a new path)");
        return Number(v);
      },
    )
    .action(async (path: string, pairs: string[], o: Common & { fromFile?: string; cas?: number }) => {
      const data = await valuesOf(pairs, o.fromFile);
      const v = await (
        await api(o)
      )<VersionInfo>("PUT", at("data", path), {
        data,
        ...(o.cas !== undefined ? { cas: o.cas } : {}),
      });
      print(o, v, `wrote ${path} version ${v.version} (${Object.keys(data).length} key(s))`);
    });

  commonOptions(secrets.command("list [prefix]"))
    .description("paths under a prefix (/, /prod/ or /prod/api/) that you may list")
    .action(async (prefix: string | undefined, o: Common) => {
      const p = prefix ?? "/";
      const { paths } = await (
        await api(o)
      )<{ paths: string[] }>("GET", at("list", p.endsWith("/") ? p : `${p}/`));
      print(o, { paths }, paths.length === 0 ? `no secrets under ${p}` : paths.join("\n"));
    });

  commonOptions(secrets.command("history <path>"))
    .description("a secret's versions (number, state, when, who) and metadata; never values")
    .action(async (path: string, o: Common) => {
      const m = await (await api(o))<Metadata>("GET", at("metadata", path));
      print(o, m, historyTable(m));
    });

  commonOptions(secrets.command("rollback <path> <version>"))
    .description("write an old version's value again as a new version")
    .action(async (path: string, version: string, o: Common) => {
      const v = await (
        await api(o)
      )<VersionInfo>("POST", at("rollback", path), { version: positiveInt(version) });
      print(o, v, `${path}: version ${v.version} now holds the value of version ${version}`);
    });

  commonOptions(secrets.command("delete <path>"))
    .description("soft-delete versions (default the newest); undelete brings them back")
    .option("--versions <list>", "these versions, e.g. 1,2", versionList)
    .action(async (path: string, o: Common & { versions?: number[] }) => {
      const r = await (
        await api(o)
      )<unknown>("POST", at("delete", path), o.versions ? { versions: o.versions } : {});
      print(
        o,
        r,
        `deleted ${o.versions ? `version(s) ${o.versions.join(", ")}` : "the newest version"} of ${path}`,
      );
    });

  for (const [name, verb, about] of [
    ["undelete", "undeleted", "bring soft-deleted versions back"],
    ["destroy", "destroyed", "destroy versions' ciphertext for good (no undo)"],
  ] as const)
    commonOptions(secrets.command(`${name} <path>`))
      .description(about)
      .requiredOption("--versions <list>", "the versions, e.g. 1,2", versionList)
      .action(async (path: string, o: Common & { versions: number[] }) => {
        const r = await (await api(o))<unknown>("POST", at(name, path), { versions: o.versions });
        print(o, r, `${verb} version(s) ${o.versions.join(", ")} of ${path}`);
      });

  commonOptions(secrets.command("revoke <path> <version>"))
    .description("incident response: a version can never be read again; raises a high-severity event")
    .requiredOption("--reason <text>", "why, for the audit log (an incident id helps)")
    .action(async (path: string, version: string, o: Common & { reason: string }) => {
      const r = await (
        await api(o)
      )<unknown>("POST", at("revoke", path), {
        version: positiveInt(version),
        reason: o.reason,
      });
      print(o, r, `revoked version ${version} of ${path}`);
    });

  commonOptions(secrets.command("rotate <path>"))
    .description("rotate a secret that has a rotation schedule (secrets.rotation) now")
    .action(async (path: string, o: Common) => {
      const r = await (
        await api(o)
      )<{ ok: boolean; version?: number; error?: string }>("POST", at("rotate", path));
      print(o, r, r.ok ? `rotated ${path}: version ${r.version}` : `rotation of ${path} failed: ${r.error}`);
    });

  commonOptions(secrets.command("status"))
    .description("sealed or not, the root key provider and the current key-encryption key")
    .action(async (o: Common) => {
      const s = await (await api(o))<Status>("GET", "/api/v1/secrets/status");
      print(o, s, statusText(s));
    });

  commonOptions(secrets.command("unseal"))
    .description(
      "submit Shamir unseal shares read from stdin (typed without echo, or piped, one per line); never from argv",
    )
    .action(async (o: Common) => {
      const shares = (await readHidden("unseal share: "))
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean);
      if (shares.length === 0) throw new Error("unseal: no share on stdin");
      const call = await api(o);
      let s: Status | undefined;
      for (const share of shares) s = await call<Status>("POST", "/api/v1/secrets/unseal", { share });
      const status = s as Status;
      print(
        o,
        status,
        status.sealed
          ? `still sealed: ${status.unseal?.submitted ?? 0} of ${status.unseal?.threshold ?? "?"} shares submitted`
          : "unsealed",
      );
    });

  secrets
    .command("init")
    .description(
      "split a new root key into Shamir shares (offline: the database of the config, server stopped when embedded); prints the shares once",
    )
    .option("-c, --config <file>", "rampart.yaml (its secrets.root must name provider shamir)")
    .option("--shares <n>", "how many shares to hand out (default secrets.root.shares)", positiveInt)
    .option("--threshold <n>", "how many unseal the store (default secrets.root.threshold)", positiveInt)
    .option("--json", "machine-readable output")
    .action(async (o: { config?: string; shares?: number; threshold?: number; json?: boolean }) => {
      const config = o.config ? await loadConfig(o.config) : defaultConfig();
      const root = config.secrets.root;
      if (root.provider !== "shamir")
        throw new Error(
          `init: secrets.root.provider is ${root.provider}; set it to shamir to split the root key`,
        );
      const dataDir = resolve(config.database.dataDir);
      const store = await openStore({ url: config.database.url, dataDir, migrations }).catch(
        (err: unknown) => {
          throw new Error(
            `init: cannot open the database (${(err as Error).message}); with embedded storage, stop the server first`,
          );
        },
      );
      try {
        const { shares } = await initShamir(store, {
          shares: o.shares ?? root.shares,
          threshold: o.threshold ?? root.threshold,
        });
        const threshold = o.threshold ?? root.threshold;
        print(
          o,
          { shares, threshold },
          [
            `WARNING: these ${shares.length} shares are shown once and never stored. Give each to a different person;`,
            `any ${threshold} of them unseal the store (\`rampart secrets unseal\`), fewer reveal nothing.`,
            "",
            ...shares.map((s, i) => `share ${i + 1}: ${s}`),
          ].join("\n"),
        );
      } finally {
        await store.close();
      }
    });

  const keys = secrets.command("keys").description("the key-encryption keys under the root key");
  commonOptions(keys.command("rotate"))
    .description("make a new key-encryption key now; older data keys are re-wrapped in the background")
    .action(async (o: Common) => {
      const r = await (await api(o))<{ kekVersion: number }>("POST", "/api/v1/secrets/keys/rotate");
      print(o, r, `key-encryption key version ${r.kekVersion} is current; re-wrapping older data keys`);
    });

  commonOptions(secrets.command("backup"))
    .description("write the encrypted store (no plaintext; verified on restore) to a file")
    .requiredOption("--out <file>", "where to write the backup")
    .action(async (o: Common & { out: string }) => {
      const { document } = await (await api(o))<{ document: string }>("GET", "/api/v1/secrets/backup");
      writeFileSync(o.out, document, { mode: 0o600 });
      const bytes = Buffer.byteLength(document);
      print(o, { out: o.out, bytes }, `wrote ${o.out} (${bytes} bytes)`);
    });

  commonOptions(secrets.command("restore <file>"))
    .description("load a backup into an empty store, verified first (digest, HMAC, every version opens)")
    .action(async (file: string, o: Common) => {
      const document = readFileSync(file, "utf8");
      const r = await (
        await api(o)
      )<{ secrets: number; versions: number }>("POST", "/api/v1/secrets/restore", {
        document,
      });
      print(o, r, `restored ${r.secrets} secret(s), ${r.versions} version(s) from ${file}`);
    });

  commonOptions(secrets.command("readers <path>"))
    .description("incident response: who read a secret since a time, from the audit log")
    .requiredOption("--since <time>", "an ISO 8601 time, e.g. 2026-01-31T00:00:00Z")
    .action(async (path: string, o: Common & { since: string }) => {
      const r = await (
        await api(o)
      )<{ readers: Reader[] }>("GET", `${at("readers", path)}?since=${encodeURIComponent(o.since)}`);
      const lines = r.readers.map(
        (x) =>
          `  ${x.actor}  ${x.reads} read(s) of version(s) ${x.versions.join(", ")}  ${x.firstAt} .. ${x.lastAt}`,
      );
      print(
        o,
        r,
        lines.length === 0
          ? `nobody read ${path} since ${o.since}`
          : [`read ${path} since ${o.since}:`, ...lines].join("\n"),
      );
    });

  commonOptions(secrets.command("readable"))
    .description("incident response: the paths a user or service could read under the policies in force")
    .requiredOption("--subject <subject>", "a user (<provider>:<sub>) or service account name")
    .option("--service", "the subject is a service account (default: a user)")
    .option("--groups <list>", "the user's groups, comma-separated")
    .option("--roles <list>", "the subject's roles, comma-separated")
    .action(async (o: Common & { subject: string; service?: boolean; groups?: string; roles?: string }) => {
      const q = new URLSearchParams({ kind: o.service ? "service" : "user", subject: o.subject });
      if (o.groups) q.set("groups", o.groups);
      if (o.roles) q.set("roles", o.roles);
      const r = await (await api(o))<{ paths: string[] }>("GET", `/api/v1/secrets/readable?${q}`);
      print(o, r, r.paths.length === 0 ? `${o.subject} can read no secret` : r.paths.join("\n"));
    });

  registerSecretsRunCommand(secrets);
  registerSecretsK8sCommands(secrets);
}

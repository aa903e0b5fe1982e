import type { Command } from "commander";
import { defaultConfig, loadConfig, type RampartConfig } from "../config/index.ts";
import {
  createCheckpointSigner,
  loadOrCreateAuditKeys,
  verifyBundle,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  writeAuditKeyFile,
} from "../monitoring/audit/index.ts";
import { type AuditAccess, openAuditAccess } from "./audit-access.ts";
import { progressBar } from "./progress.ts";

interface Common {
  config?: string;
  server?: string;
  json?: boolean;
}

async function configOf(o: Common): Promise<RampartConfig> {
  return o.config ? loadConfig(o.config) : defaultConfig();
}

function instant(v: string, name: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Error(`--${name}: expected an ISO 8601 date or time, got '${v}'`);
  return d;
}

const out = (o: Common, json: unknown, text: string) =>
  console.log(o.json ? JSON.stringify(json, null, 2) : text);

/** Opens the audit log (through the running server or the store), runs `fn`, and always closes it. */
async function withAccess(
  o: Common,
  write: boolean,
  fn: (access: AuditAccess) => Promise<void>,
): Promise<void> {
  const access = await openAuditAccess(await configOf(o), {
    ...(o.server ? { server: o.server } : {}),
    write,
  });
  try {
    await fn(access);
  } finally {
    await access.close();
  }
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("the tamper-evident audit log: verify, prove, export");
  const common = (c: Command) =>
    c
      .option("-c, --config <file>", "rampart.yaml (default: embedded defaults)")
      .option("--server <url>", "reach this running server instead of the local store")
      .option("--json", "machine-readable output");

  common(audit.command("verify"))
    .description(
      "check every entry against its MAC, sequence and signed checkpoints; or an export with --bundle",
    )
    .option("--log <id>", "only this log (e.g. security/2026-11)")
    .option(
      "--bundle <path>",
      "verify an export offline instead: its directory, or the one JSON file the console downloads",
    )
    .option("--key <verifierKey>", "with --bundle: the deployment's verifier key, obtained out of band")
    .action(async (o: Common & { log?: string; bundle?: string; key?: string }) => {
      if (o.bundle) {
        const r = verifyBundle(o.bundle, o.key);
        out(
          o,
          r,
          r.ok
            ? `bundle ${o.bundle}: OK — ${r.entries} entries in ${r.logs} logs match their signed checkpoints${r.keyPinned ? "" : "\n  warning: the key was taken from the bundle itself; pin it with --key"}`
            : `bundle ${o.bundle}: FAILED — ${r.problem}`,
        );
        if (!r.ok) process.exitCode = 1;
        return;
      }
      await withAccess(o, false, async (access) => {
        const bar = o.json ? undefined : progressBar("verifying");
        const r = await access.verify(o.log, bar?.update);
        bar?.done();
        if (!r.ok) process.exitCode = 1;
        if (o.json) return out(o, r, "");
        for (const l of r.logs) {
          const status = l.problem
            ? `FAILED at entry ${l.problem.seq}: ${l.problem.message}`
            : l.state === "expired"
              ? "expired (final checkpoint kept)"
              : "ok";
          console.log(
            `  ${l.log.padEnd(24)} ${String(l.entries).padStart(9)} entries  ${String(l.checkpoints).padStart(5)} checkpoints  ${status}`,
          );
        }
        if (r.ok)
          console.log(
            `OK: ${r.entries} entries in ${r.logs.length} logs verified in ${r.seconds.toFixed(2)} s (${access.via})`,
          );
        else {
          const p = r.problem;
          console.log(
            `FAILED: ${p?.log} entry ${p?.seq}${p?.entryId ? ` (id ${p.entryId})` : ""} ${p?.kind}: ${p?.message}`,
          );
          process.exitCode = 1;
        }
      });
    });

  common(audit.command("proof"))
    .description(
      "inclusion proof of an entry (--entry) or consistency proof between sizes of a log (--log --from [--to])",
    )
    .option("--entry <id>", "entry id")
    .option("--log <id>", "log id, for a consistency proof")
    .option("--from <size>", "older tree size")
    .option("--to <size>", "newer tree size (default: latest checkpoint)")
    .action(async (o: Common & { entry?: string; log?: string; from?: string; to?: string }) => {
      if (!o.entry && !(o.log && o.from !== undefined))
        throw new Error("give --entry ID, or --log ID --from SIZE");
      await withAccess(o, false, async (access) => {
        if (o.entry) {
          const p = await access.inclusion(o.entry);
          const key = (await access.logs()).verifierKey;
          const cp = verifyCheckpoint(p.checkpoint, key);
          const ok =
            cp.root.toString("hex") === p.rootHash &&
            verifyInclusion(
              Buffer.from(p.leafHash, "hex"),
              p.seq,
              p.treeSize,
              p.proof.map((h) => Buffer.from(h, "hex")),
              cp.root,
            );
          out(
            o,
            { ...p, verified: ok },
            `entry ${p.entryId} is leaf ${p.seq} of ${p.log}; included in the signed tree of size ${p.treeSize}: ${ok ? "verified" : "NOT VERIFIED"}\n  root  ${p.rootHash}\n  proof ${p.proof.length} hashes\n${p.checkpoint}`,
          );
          if (!ok) process.exitCode = 1;
        } else {
          const from = Number(o.from);
          const p = await access.consistency(
            o.log as string,
            from,
            o.to === undefined ? undefined : Number(o.to),
          );
          const ok = verifyConsistency(
            p.fromSize,
            p.toSize,
            Buffer.from(p.fromRoot, "hex"),
            Buffer.from(p.toRoot, "hex"),
            p.proof.map((h) => Buffer.from(h, "hex")),
          );
          out(
            o,
            { ...p, verified: ok },
            `${p.log}: tree ${p.fromSize} is a prefix of tree ${p.toSize}: ${ok ? "verified" : "NOT VERIFIED"} (${p.proof.length} hashes)`,
          );
          if (!ok) process.exitCode = 1;
        }
      });
    });

  common(audit.command("export"))
    .description(
      "write entries of [from, to) as JSONL with a SHA-256 manifest, range proofs and signed checkpoints",
    )
    .requiredOption("--from <time>", "start (inclusive), ISO 8601")
    .requiredOption("--to <time>", "end (exclusive), ISO 8601")
    .requiredOption("--out <dir>", "output directory")
    .action(async (o: Common & { from: string; to: string; out: string }) => {
      await withAccess(o, true, async (access) => {
        const m = await access.exportBundle(instant(o.from, "from"), instant(o.to, "to"), o.out);
        out(
          o,
          m,
          `exported ${m.entries} entries to ${o.out}\n  verify offline: rampart audit verify --bundle ${o.out} --key '${m.verifierKey}'`,
        );
      });
    });

  common(audit.command("search"))
    .description("find entries by time range, type, actor and target, newest first")
    .option("--from <time>", "from this time (inclusive), ISO 8601")
    .option("--to <time>", "until this time (exclusive), ISO 8601")
    .option("--type <type>", "event type, e.g. waf.blocked")
    .option("--actor <kind:id>", "who acted, e.g. user:alice@example.com or ip:203.0.113.9")
    .option("--target <kind:id>", "what was acted on, e.g. route:/login")
    .option("--limit <n>", "entries per page (1-1000)", "50")
    .option("--cursor <cursor>", "the 'next' cursor of a previous page")
    .action(
      async (
        o: Common & {
          from?: string;
          to?: string;
          type?: string;
          actor?: string;
          target?: string;
          limit: string;
          cursor?: string;
        },
      ) => {
        await withAccess(o, false, async (access) => {
          const page = await access.search({ ...o, limit: Number(o.limit) });
          const rows = page.entries.map(
            (e) =>
              `  ${e.time}  ${e.type.padEnd(22)} ${e.outcome.padEnd(8)} ${e.actor}${e.target ? ` → ${e.target}` : ""}  (${e.log} #${e.seq})`,
          );
          out(
            o,
            page,
            [...rows, page.next ? `more: --cursor ${page.next}` : `${rows.length} entries`].join("\n"),
          );
        });
      },
    );

  common(audit.command("logs"))
    .description("list logs per retention class and period, and the verifier key")
    .action(async (o: Common) => {
      await withAccess(o, false, async (access) => {
        const r = await access.logs();
        out(
          o,
          r,
          [
            ...r.logs.map(
              (l) =>
                `  ${l.log.padEnd(24)} ${l.state.padEnd(8)} ${String(l.size).padStart(9)} entries  ${l.periodStart.slice(0, 10)} → ${l.periodEnd.slice(0, 10)}`,
            ),
            `verifier key: ${r.verifierKey}`,
          ].join("\n"),
        );
      });
    });

  audit
    .command("keys")
    .description("the audit log's key file")
    .command("init <file>")
    .description(
      "make a new key file (Ed25519 signing key and MAC secret, mode 0600) for servers that share one, e.g. as a Kubernetes Secret; prints the verifier key",
    )
    .option("--json", "machine-readable output")
    .action((file: string, o: { json?: boolean }) => {
      if (!writeAuditKeyFile(file))
        throw new Error(`${file} already exists: a new key could not verify what the old one signed`);
      const { signingKey } = loadOrCreateAuditKeys(file);
      const { verifierKey } = createCheckpointSigner({ name: "rampart-audit", privateKey: signingKey });
      out(
        o,
        { file, verifierKey },
        `wrote ${file} (keep a copy apart from database backups)\nverifier key: ${verifierKey}`,
      );
    });

  common(audit.command("checkpoint"))
    .description("sign a checkpoint now for every log that grew")
    .action(async (o: Common) => {
      await withAccess(o, true, async (access) => {
        const cps = await access.checkpoint();
        out(
          o,
          cps,
          cps.length === 0
            ? "nothing new to sign"
            : cps.map((c) => `  ${c.log} size ${c.size} root ${c.root}`).join("\n"),
        );
      });
    });
}

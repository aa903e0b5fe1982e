// `rampart privacy consent`: the consent ledger through the running control plane's API — record
// consent given or withdrawn, check a purpose, show a subject's consents, export the proof and
// verify an exported proof offline.
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import {
  type ConsentCheck,
  type ConsentEntry,
  type ConsentProof,
  consentChannels,
  jurisdictions,
  type ProofVerification,
  type SubjectConsents,
  verifyConsentProof,
} from "../data/privacy/consent/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

const base = "/api/v1/privacy/consents";
const minute = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "-");

interface RecordOptions extends Common {
  noticeId?: string;
  noticeHash?: string;
  noticeFile?: string;
  channel: string;
  jurisdiction?: string;
  expires?: string;
  child?: boolean;
  guardianRef?: string;
  parentalMethod?: string;
  verifiedAt?: string;
  verifiedBy?: string;
  subjectRef?: string;
  evidence?: string;
}

function recordBody(subject: string, purpose: string, state: "given" | "withdrawn", o: RecordOptions) {
  if (o.noticeHash && o.noticeFile) throw new Error("give --notice-hash or --notice-file, not both");
  const notice = o.noticeId
    ? {
        id: o.noticeId,
        ...(o.noticeFile ? { text: readFileSync(o.noticeFile, "utf8") } : { hash: o.noticeHash }),
      }
    : undefined;
  if (notice && !o.noticeHash && !o.noticeFile)
    throw new Error("--notice-id needs --notice-hash (SHA-256 of the notice text) or --notice-file");
  const parental = o.guardianRef
    ? {
        guardianRef: o.guardianRef,
        method: o.parentalMethod ?? "",
        verifiedAt: o.verifiedAt ?? "",
        verifiedBy: o.verifiedBy ?? "",
      }
    : undefined;
  let evidence: unknown;
  if (o.evidence) {
    try {
      evidence = JSON.parse(o.evidence);
    } catch {
      throw new Error(`--evidence: expected a JSON object; got '${o.evidence}'`);
    }
  }
  return {
    subject,
    purpose,
    state,
    channel: o.channel,
    ...(notice ? { notice } : {}),
    ...(o.jurisdiction ? { jurisdiction: o.jurisdiction } : {}),
    ...(o.expires ? { expiresAt: o.expires } : {}),
    ...(o.child !== undefined ? { child: o.child } : {}),
    ...(parental ? { parental } : {}),
    ...(o.subjectRef ? { subjectRef: o.subjectRef } : {}),
    ...(evidence !== undefined ? { evidence } : {}),
  };
}

const recordOptions = (c: Command) =>
  commonOptions(c)
    .option("--notice-id <id>", "the version of the notice shown")
    .option("--notice-hash <sha256>", "SHA-256 of the notice text shown")
    .option("--notice-file <file>", "the notice text shown (hashed; not sent in clear to storage)")
    .option("--channel <channel>", `where it was given (${consentChannels.join(", ")})`, "api")
    .option("--jurisdiction <j>", `${jurisdictions.join(" or ")}`)
    .option("--expires <date>", "when the consent lapses (ISO date-time)")
    .option("--evidence <json>", "a JSON object referencing the proof (form id, receipt)")
    .option("--subject-ref <ref>", "your opaque reference for the subject, returned in proofs")
    .option("--child", "the subject is a child")
    .option("--no-child", "the subject is no longer a child")
    .option("--guardian-ref <ref>", "verifiable parental consent: the guardian's reference")
    .option(
      "--parental-method <m>",
      "how the guardian was verified (digilocker_token, id_document, existing_verified_adult…)",
    )
    .option("--verified-at <when>", "when the guardian was verified")
    .option("--verified-by <who>", "who verified the guardian");

const entryLine = (e: ConsentEntry) =>
  `  #${String(e.seq).padEnd(4)} ${minute(e.recordedAt)}  ${e.state.padEnd(9)} ${e.purpose.padEnd(24)} notice ${e.notice.id}  via ${e.channel}  ${e.hash.slice(0, 16)}…`;

const verificationText = (v: ProofVerification) =>
  v.ok
    ? `chain intact: ${v.entries} entries, head ${v.head}`
    : `CHAIN BROKEN at entry ${v.brokenAt}: ${v.reason}`;

/** Registers `consent …` under `rampart privacy`. */
export function registerPrivacyConsentCommands(privacy: Command): void {
  const consent = privacy
    .command("consent")
    .description("the consent ledger: record, withdraw, check, show, export and verify proofs");

  recordOptions(consent.command("give <subject> <purpose>"))
    .description("record consent given for a purpose")
    .action(async (subject: string, purpose: string, o: RecordOptions) => {
      const e = await (await apiFor(o))<ConsentEntry>("POST", base, recordBody(subject, purpose, "given", o));
      print(o, e, `recorded\n${entryLine(e)}`);
    });

  recordOptions(consent.command("withdraw <subject> [purpose]"))
    .description("record consent withdrawn for a purpose, or for every purpose with --all")
    .option("--all", "withdraw every purpose the subject consented to")
    .action(async (subject: string, purpose: string | undefined, o: RecordOptions & { all?: boolean }) => {
      const api = await apiFor(o);
      if (o.all) {
        if (purpose) throw new Error("withdraw --all takes no purpose");
        const r = await api<{ withdrawn: ConsentEntry[] }>(
          "POST",
          `${base}/${encodeURIComponent(subject)}/withdraw-all`,
          { channel: o.channel },
        );
        print(o, r, r.withdrawn.length === 0 ? "nothing to withdraw" : r.withdrawn.map(entryLine).join("\n"));
        return;
      }
      if (!purpose) throw new Error("withdraw: name a purpose or give --all");
      const e = await api<ConsentEntry>("POST", base, recordBody(subject, purpose, "withdrawn", o));
      print(o, e, `recorded\n${entryLine(e)}`);
    });

  commonOptions(consent.command("check <subject> <purpose>"))
    .description("whether the purpose may be processed for the subject now (exit 1 when not)")
    .action(async (subject: string, purpose: string, o: Common) => {
      const q = new URLSearchParams({ subject, purpose });
      const c = await (await apiFor(o))<ConsentCheck>("GET", `${base}/check?${q}`);
      print(
        o,
        c,
        `${c.allowed ? "allowed" : "NOT allowed"}: ${c.reason}${c.noticeVersion ? ` (notice ${c.noticeVersion.id}, since ${minute(c.since)})` : ""}`,
      );
      if (!c.allowed) process.exitCode = 1;
    });

  commonOptions(consent.command("show <subject>"))
    .description("the subject's current consent per purpose")
    .action(async (subject: string, o: Common) => {
      const s = await (await apiFor(o))<SubjectConsents>("GET", `${base}/${encodeURIComponent(subject)}`);
      const head = `subject ${s.subjectHash.slice(0, 16)}…${s.subjectRef ? ` (${s.subjectRef})` : ""}${s.child ? `  child, parental consent ${s.parentalConsentOnFile ? "on file" : "MISSING"}` : ""}`;
      const rows = s.consents.map(
        (c) =>
          `  ${c.purpose.padEnd(24)} ${(c.state ?? "-").padEnd(9)} ${(c.allowed ? "allowed" : c.reason).padEnd(30)} notice ${c.noticeVersion?.id ?? "-"}  since ${minute(c.since)}`,
      );
      print(o, s, [head, ...(rows.length ? rows : ["  no consent recorded"])].join("\n"));
    });

  commonOptions(consent.command("proof <subject>"))
    .description("export the subject's hash-chained ledger entries as JSON")
    .option("--out <file>", "write the proof to this file")
    .action(async (subject: string, o: Common & { out?: string }) => {
      const p = await (
        await apiFor(o)
      )<ConsentProof & { verification: ProofVerification }>(
        "GET",
        `${base}/${encodeURIComponent(subject)}/proof`,
      );
      if (o.out) {
        writeFileSync(o.out, `${JSON.stringify(p, null, 2)}\n`);
        print(
          o,
          { file: o.out, verification: p.verification },
          `${o.out}: ${verificationText(p.verification)}`,
        );
        return;
      }
      print(o, p, [...p.entries.map(entryLine), verificationText(p.verification)].join("\n"));
    });

  commonOptions(consent.command("verify <file>"))
    .description("verify an exported consent proof offline (exit 1 when the chain is broken)")
    .action((file: string, o: Common) => {
      const proof = JSON.parse(readFileSync(file, "utf8")) as ConsentProof;
      const v = verifyConsentProof(proof);
      print(o, v, `${file}: ${verificationText(v)}`);
      if (!v.ok) process.exitCode = 1;
    });
}

// Mail injection: values that a contact form, a newsletter signup or a webmail front end hands to an
// SMTP, IMAP or POP3 conversation or pastes into a message's headers, carrying a line break and then
// protocol: another recipient (`Bcc: victim@example.com`), a MIME header that rewrites the message
// (`Content-Type: multipart/mixed`), or a command of the mail protocol itself (`RCPT TO:<x>`,
// `MAIL FROM:`, `DATA`, `QUIT`, an IMAP tagged command such as `A1 FETCH 1:* BODY[]`). Prose is the
// look-alike: a message may well say `To: the team` or quote a forwarded mail, so address headers
// need an address, and at PL1 they must follow a first line that is a single field (an address, a
// name, a subject word) rather than a paragraph; Bcc, which quoted mails seldom show, always counts.
// Line breaks are real CR or LF, raw or decoded from any encoding the engine's variants undo.
// The engine base64-decodes only values of 16 chars and more; a CRLF-led command encodes shorter
// (`DQpRVUlUDQo`), so such values are decoded here. Plain char loops. Rules are our own.
import { CHAR_BREAK } from "../chars.ts";
import {
  type Detection,
  type Detector,
  type ParanoiaLevel,
  type Severity,
  type Target,
  NO_DETECTIONS,
} from "../types.ts";
import { type BrokenLine, headerAt, isBreak, linesAfterBreaks } from "./crlf.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "mail-header-injection"
  | "mail-smtp-command"
  | "mail-imap-command"
  | "mail-header-loose"
  | "mail-command-loose";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

const TAGS = ["attack-mail-injection"] as const;

/**
 * PL1: a mail header in its grammar after a single-field first line (Bcc anywhere), and protocol
 * commands in the shape a client sends them (upper case verbs, an IMAP tag with a digit). PL2: the
 * same headers after any first line, and commands in any case or with any tag.
 */
export const MAIL_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "mail-header-injection": { paranoia: 1, severity: "critical", tags: TAGS },
  "mail-smtp-command": { paranoia: 1, severity: "critical", tags: [...TAGS, "smtp"] },
  "mail-imap-command": { paranoia: 1, severity: "critical", tags: [...TAGS, "imap"] },
  "mail-header-loose": { paranoia: 2, severity: "error", tags: TAGS },
  "mail-command-loose": { paranoia: 2, severity: "warning", tags: TAGS },
};

// An addr-spec somewhere in the value: `local@domain.tld`.
const ADDRESS = /[a-z0-9._%+'-]@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/i;
const ADDRESS_HEADERS = words(
  "to cc bcc from reply-to sender return-path resent-to resent-cc resent-bcc resent-from errors-to disposition-notification-to",
);
/** Headers that rewrite the message, each in its grammar. */
const MESSAGE_HEADERS: Record<string, (value: string) => boolean> = {
  subject: (s) => s.length > 0,
  "content-type": (s) => /^(?:text|multipart|message|application|image|audio|video)\/[a-z0-9.+-]+/i.test(s),
  "mime-version": (s) => /^\d\.\d\b/.test(s),
  "content-transfer-encoding": (s) => /^(?:7bit|8bit|binary|base64|quoted-printable)\b/i.test(s),
  "x-mailer": (s) => s.length > 0,
  "message-id": (s) => s.startsWith("<"),
};

/**
 * The first line is one field's worth (empty, an address, or one word in a short value): the value
 * was meant to be single-line. A paragraph, a `Name: value` line (a raw mail relayed whole) or a
 * greeting atop a long message is not.
 */
function singleFieldFirstLine(v: string, firstBreak: number, lines: number): boolean {
  const first = v.slice(0, firstBreak).trim();
  if (first === "") return true;
  if (
    first.length > 320 ||
    first.includes(" ") ||
    first.includes("\t") ||
    headerAt(first, 0, first.length) !== null
  )
    return false;
  return first.includes("@") || lines <= 3;
}

function headerRule(v: string, line: BrokenLine, firstField: boolean, http: boolean): RuleId | null {
  const h = headerAt(v, line.start, line.end);
  if (h === null || h.value === "") return null;
  if (ADDRESS_HEADERS.has(h.name)) {
    if (!ADDRESS.test(h.value)) return null;
    return h.name.endsWith("bcc") || firstField ? "mail-header-injection" : "mail-header-loose";
  }
  // `Content-Type:` under `HTTP/1.1 200 OK` is an HTTP message (the CRLF detector's), not a mail.
  const grammar = !http && Object.hasOwn(MESSAGE_HEADERS, h.name) ? MESSAGE_HEADERS[h.name] : undefined;
  if (grammar === undefined || !grammar(h.value)) return null;
  return firstField ? "mail-header-injection" : "mail-header-loose";
}

// SMTP verbs with an argument, and those that stand alone on their line; POP3's alike.
const SMTP_ARG = words("helo ehlo vrfy expn auth etrn bdat retr dele apop uidl");
const SMTP_BARE = words("data quit rset noop starttls");
// IMAP commands (RFC 3501 and common extensions).
const IMAP = words(
  "capability noop logout starttls authenticate login select examine create delete rename subscribe unsubscribe list lsub status append check close expunge search fetch store copy move uid idle enable namespace getacl setacl getquota setquota id unselect",
);

const isUpperWord = (s: string): boolean => s === s.toUpperCase();

/** The SMTP/POP3 command on the line, if any: strict (as a client sends it) or loose. */
function smtpRule(line: string): RuleId | null {
  const l = line.toLowerCase();
  // The two envelope commands are distinctive in any case.
  if (/^(?:mail[ \t]+from|rcpt[ \t]+to)[ \t]*:/.test(l)) return "mail-smtp-command";
  const m = /^([a-z]{3,8})(?:[ \t]+(\S{1,256}))?[ \t]*$/.exec(l.length > 300 ? l.slice(0, 300) : l);
  if (m === null) return null;
  const verb = m[1]!;
  const strict = isUpperWord(line.slice(0, verb.length));
  if (m[2] === undefined ? SMTP_BARE.has(verb) : SMTP_ARG.has(verb))
    return strict ? "mail-smtp-command" : "mail-command-loose";
  return null;
}

/** `A1 FETCH 1:* (FLAGS)`, `V100 CAPABILITY`: an IMAP tagged command. */
function imapRule(line: string): RuleId | null {
  const m = /^([a-z0-9.]{1,12})[ \t]+([a-z]{2,12})(?:[ \t]|$)/i.exec(line.slice(0, 40));
  if (m === null || !IMAP.has(m[2]!.toLowerCase())) return null;
  const tag = m[1]!;
  const upper = isUpperWord(m[2]!);
  // A client's tag mixes letters and digits (`A1`, `a001`); prose has `a copy`, `1. Select`.
  const clientTag = /[a-z]/i.test(tag) && /\d/.test(tag) && !tag.includes(".");
  if (upper && clientTag) return "mail-imap-command";
  return upper || clientTag ? "mail-command-loose" : null;
}

/** False only when shortBase64 is null for `v` (too short, or opening with another printable char). */
function mayBeShortBase64(v: string): boolean {
  const v0 = v.charCodeAt(0);
  return v.length >= 8 && !(v0 > 32 && v0 < 127 && v0 !== 67 && v0 !== 68);
}

/** A short base64 value that decodes to a line break and printable text, or null. */
function shortBase64(v: string): string | null {
  if (v.length < 8) return null; // trimming only shortens it
  // The first decoded byte is a CR (13) or LF (10) only when the first char's six bits are 3 or 2:
  // the trimmed value opens with `C` or `D` (a printable ASCII first char is never trimmed).
  const v0 = v.charCodeAt(0);
  if (v0 > 32 && v0 < 127 && v0 !== 67 && v0 !== 68) return null;
  const t = v.trim();
  const c0 = t.charCodeAt(0);
  if (c0 !== 67 /* C */ && c0 !== 68 /* D */) return null;
  if (t.length < 8 || t.length > 15 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return null;
  const text = Buffer.from(t, "base64").toString("latin1");
  if (text.length === 0 || !isBreak(text.charCodeAt(0))) return null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!(c === 10 || c === 13 || (c >= 32 && c < 127))) return null;
  }
  return text;
}

/** A line that starts an HTTP message: `HTTP/1.1 200`, `GET /x HTTP/1.1`. */
const HTTP_LINE = /(?:^|[\r\n])(?:http\/\d|[a-z]{3,9} \S{1,2048} http\/\d)/i;

function scan(v: string, out: Set<RuleId>): void {
  const lines = linesAfterBreaks(v);
  if (lines.length === 0) return;
  const lf = v.indexOf("\n");
  const cr = v.indexOf("\r");
  const firstBreak = lf < 0 ? (cr < 0 ? v.length : cr) : cr < 0 ? lf : Math.min(lf, cr);
  const firstField = singleFieldFirstLine(v, firstBreak, lines.filter((l) => l.real).length);
  const http = HTTP_LINE.test(v);
  for (const line of lines) {
    // Mail libraries do not narrow wide chars the way some HTTP stacks do: only real breaks count.
    if (line.start >= line.end || !line.real) continue;
    const header = headerRule(v, line, firstField, http);
    if (header !== null) {
      out.add(header);
      continue;
    }
    const text = v.slice(line.start, Math.min(line.end, line.start + 300));
    const cmd = smtpRule(text) ?? imapRule(text);
    if (cmd !== null) out.add(cmd);
  }
}

const BREAK = /[\n\r]/;

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

/** Rules a value matches, at every paranoia level. */
export function classifyMail(value: string, targetName = ""): readonly RuleId[] {
  if (targetName === "REQUEST_BODY" || targetName.startsWith("LIMIT:")) return NO_RULES;
  const v = value.length > 65536 ? value.slice(0, 65536) : value;
  // Every rule reads a line after a real CR or LF: without one, only a short base64 value can hold it.
  if (!BREAK.test(v)) {
    const decoded = shortBase64(v);
    if (decoded === null) return NO_RULES;
    const out = new Set<RuleId>();
    scan(decoded, out);
    return [...out];
  }
  const out = new Set<RuleId>();
  scan(v, out);
  if (out.size === 0) {
    const decoded = shortBase64(v);
    if (decoded !== null) scan(decoded, out);
  }
  return [...out];
}

export const mailDetector: Detector = {
  name: "mail",
  // BREAK, or a short base64 value (see shortBase64).
  needs: { bits: CHAR_BREAK, anyway: mayBeShortBase64 },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyMail(target.value, target.name);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = MAIL_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};

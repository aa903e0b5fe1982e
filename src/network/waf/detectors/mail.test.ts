import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import { classifyMail, MAIL_RULES, mailDetector } from "./mail.ts";

const SUPERLINEAR_GUARD_MS = 250;

const rulesAt = (value: string, pl = 1, name = "ARGS:email"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      mailDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("mailDetector: header injection", () => {
  const attacks = [
    "victim@example.com%0ABcc: everyone@example.org",
    "victim@example.com\r\nCc: spam@example.org",
    "me@example.com%0d%0aTo:%20a@example.org,b@example.org",
    "John\nBcc: x@evil.example",
    "%0ABcc:x@evil.example",
    "someone@example.com\nContent-Type: multipart/mixed; boundary=zzz",
    "someone@example.com\r\nSubject: You won\r\nBcc: all@example.org",
    "a@example.com%250ABCC%3A%20x%40evil.example", // double-encoded
    "a@example.com\\u000aBcc: x@evil.example", // a JavaScript escape
    "Long paragraph of text that goes on\nand on\nfor lines\nBcc: hidden@evil.example", // Bcc anywhere
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("mail-header-injection");
  });

  const benign = [
    "Hello,\nTo: the team\nPlease review the attached.",
    "To: the team",
    "Forwarded message\nFrom: Bob Smith <bob@example.com>\nTo: Alice <alice@example.com>\nSubject: Lunch",
    "Hi all,\n\nthe notes are below.\n\nCc: bob@example.com\nThanks",
    "Received: by mx.example.com\r\nFrom: a@example.com\r\nTo: b@example.com\r\nSubject: hi", // a raw mail relayed whole
    "Subject: the weekly report", // no break
    "My name is O'Brien\nSubject: Maths",
    "bob@example.com",
    "联系上Cc: a@example.com", // U+4E0A ends in 0x0A but is a letter, not a break, to mail code
  ];
  it.each(benign)("not at PL1: %s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });

  it("leaves the headers of an HTTP message to the CRLF detector", () => {
    const dump = "```sh\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2";
    expect(rulesAt(dump, 2)).toEqual([]);
  });

  it("flags a quoted address header after a paragraph at PL2", () => {
    expect(rulesAt("Please forward this\nCc: bob@example.com", 2)).toContain("mail-header-loose");
  });
});

describe("mailDetector: protocol commands", () => {
  it.each([
    "%0ARCPT%20TO:%20test@evil.com%0A",
    "x\r\nMAIL FROM:<a@evil.example>\r\nRCPT TO:<b@victim.example>\r\nDATA\r\n",
    "x\r\nrcpt to:<postmaster>",
    "%0D%0AQUIT%0D%0A",
    "x\r\nDATA\r\nSubject: hi\r\n.\r\n",
    "x\r\nEHLO evil.example",
    "x\r\nVRFY root",
    "DQpRVUlUDQo", // base64 of CRLF QUIT CRLF, shorter than the engine's base64 threshold
    "ClJDUFQgVE86IHRlc3RAZXZpbC5jb20K",
  ])("SMTP: %s", (value) => {
    expect(rulesAt(value)).toContain("mail-smtp-command");
  });

  it.each([
    "%0D%0AV100%20CAPABILITY%0D%0AV101%20FETCH%204791",
    "INBOX\r\nA1 LOGOUT",
    "INBOX\r\na001 SELECT INBOX",
    "x\nA2 FETCH 1:* (BODY[])",
    "DQpWMTAwIENBUEFCSUxJVFkNClYxMDEgRkVUQ0ggNDc5MQ",
  ])("IMAP: %s", (value) => {
    expect(rulesAt(value)).toContain("mail-imap-command");
  });

  const benign = [
    "Step 1\n2 select the file\n3 upload it",
    "Agenda:\nData\nQuit smoking\nNoop",
    "My list\nA LIST OF THINGS",
    "Then quit\nthe game",
    "mail from: your manager",
    "Please do not reply to this mail.",
    "VGhpcyBpcyBh", // short base64 that is not a command
    "12345678",
  ];
  it.each(benign)("not at PL1: %s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });

  it("keeps lower-case or untagged commands at PL2", () => {
    expect(rulesAt("x\nquit", 2)).toContain("mail-command-loose");
    expect(rulesAt("x\na1 fetch 1:*", 2)).toContain("mail-command-loose");
    expect(rulesAt("x\n1 FETCH 1:*", 2)).toContain("mail-command-loose");
    expect(
      rulesAt(
        "Permission is granted to any person obtaining\na copy of this software\n1. Select the file",
        2,
      ),
    ).toEqual([]);
  });

  it("skips raw bodies", () => {
    expect(classifyMail("x\r\nRCPT TO:<a@b.example>", "REQUEST_BODY")).toEqual([]);
  });
});

describe("mailDetector: shape", () => {
  it("reports each rule with its table entry", () => {
    const [d] = mailDetector.inspect({ name: "ARGS:to", value: "a@b.example\nBcc: c@d.example" });
    expect(d).toEqual({
      rule: "mail-header-injection",
      ...MAIL_RULES["mail-header-injection"],
      target: "ARGS:to",
    });
  });
  it("stays linear on hostile input", () => {
    for (const value of [
      "\nBcc: a@".repeat(20000),
      "\r\nA1 ".repeat(20000),
      "a@" + "b.".repeat(30000),
      "\n".repeat(60000),
    ]) {
      const t = performance.now();
      classifyMail(value, "ARGS:x");
      expect(performance.now() - t).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});

describe("mailDetector: through the engine", () => {
  const waf = createWaf({ detectors: [mailDetector] });
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const blocked = (body: string): boolean =>
    waf.inspect(
      { method: "POST", path: "/contact", headers: form, body: Buffer.from(body) },
      { mode: "block", paranoia: 1, threshold: 5, exclusions: [] },
    ).blocked;
  it("blocks an extra recipient in the sender field", () => {
    expect(blocked("from=me%40example.com%0d%0aBcc%3A%20all%40example.org&msg=hi")).toBe(true);
  });
  it("passes a contact form whose message quotes a mail", () => {
    const msg = encodeURIComponent(
      "Hello,\r\nplease see below.\r\n\r\nFrom: Bob <bob@example.com>\r\nTo: the team\r\nSubject: Lunch\r\n",
    );
    expect(blocked(`from=me%40example.com&msg=${msg}`)).toBe(false);
  });
});

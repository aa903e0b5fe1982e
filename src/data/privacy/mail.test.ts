import { afterAll, beforeAll, expect, test } from "vitest";
import { type SmtpSink, startSmtpSink } from "../../../test/support/sinks.ts";
import { createSmtpMailer, noMailer } from "./mail.ts";
import { noticeText } from "./retention/notice.ts";

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(async () => {
  await sink?.close();
});

test("an inactivity notice reaches the person over SMTP in plain words, one header line; a refusal fails without the relay's URL", async () => {
  const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${sink.port}`, from: "privacy@shop.example" });
  const text = noticeText({
    organisation: "Shop Ltd",
    eraseAfter: new Date("2029-06-03T12:00:00Z"),
    lastActive: new Date("2026-05-31T08:00:00Z"),
  });
  await mailer.send("ana@example.com", "Your account is about to be deleted\r\nBcc: x@evil.example", text);
  expect(sink.received).toHaveLength(1);
  expect(sink.received[0]?.to).toEqual(["ana@example.com"]);
  expect(sink.received[0]?.parsed.subject).toBe("Your account is about to be deleted Bcc: x@evil.example");
  expect(sink.received[0]?.parsed.text).toContain("since 2026-05-31");
  expect(sink.received[0]?.parsed.text).toContain("sign in or use the service before then");

  sink.failNext(1, 550, "mailbox unavailable");
  const refused = mailer.send("ana@example.com", "s", "t");
  await expect(refused).rejects.toThrow(/^sending privacy mail failed \(SMTP 550\)$/);
  await expect(refused).rejects.not.toThrow(/127\.0\.0\.1/);
  await expect(noMailer.send("ana@example.com", "s", "t")).rejects.toThrow(/privacy\.smtp\.url/);
  mailer.close();
});

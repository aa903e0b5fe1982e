// The inactivity notice a person receives before their data is erased.

/** Plain words: what will happen, when, and how to stop it. */
export function noticeText(o: {
  organisation?: string | undefined;
  eraseAfter: Date;
  lastActive: Date;
}): string {
  const who = o.organisation ?? "We";
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return [
    "Hello,",
    "",
    `${who === "We" ? "We have" : `${who} has`} not seen any activity on your account since ${day(o.lastActive)}.`,
    `Because we keep personal data only as long as it is needed, your account and the personal data linked to it will be deleted after ${o.eraseAfter.toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    "",
    "If you want to keep your account, simply sign in or use the service before then; nothing else is needed.",
    "If you are happy for it to be deleted, you do not need to do anything.",
    "",
    "This is an automatic message.",
  ].join("\n");
}

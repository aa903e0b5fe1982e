// What the requester reads. Plain text first (many privacy mailboxes strip HTML), the same in a
// small escaped HTML part. No personal data beyond what the requester sent us.
import type { PrivacyRequestKind } from "./states.ts";

export interface Mail {
  subject: string;
  text: string;
  html: string;
}

export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

const kindText: Record<PrivacyRequestKind, string> = {
  access: "a copy of your personal data",
  erasure: "erasure of your personal data",
  rectification: "correction of your personal data",
  portability: "your personal data in a portable format",
  objection: "an objection to the processing of your personal data",
  withdrawal: "withdrawal of your consent to processing",
  nominee: "a request made as nominee for a data principal",
  grievance: "a grievance about how your request or data was handled",
};

const mail = (subject: string, lines: string[], org: string): Mail => {
  const all = [...lines, "", `— ${org}`];
  return {
    subject: `${org}: ${subject}`,
    text: all.join("\n"),
    html: `<div style="font-family:sans-serif">${all.map((l) => (l ? `<p>${escapeHtml(l)}</p>` : "")).join("")}</div>`,
  };
};

const day = (d: Date) => d.toISOString().slice(0, 10);

export function receivedMail(o: { id: string; kind: PrivacyRequestKind; due: Date; org: string }): Mail {
  return mail(
    `we received your request ${o.id}`,
    [
      `We received your request for ${kindText[o.kind]}.`,
      `Reference: ${o.id}. We will answer by ${day(o.due)} at the latest.`,
    ],
    o.org,
  );
}

export function codeMail(o: { id: string; code: string; ttlMinutes: number; org: string }): Mail {
  return mail(
    `your verification code ${o.code}`,
    [
      `Your code to confirm privacy request ${o.id} is: ${o.code}`,
      `It is valid for ${o.ttlMinutes} minutes. If you did not ask for this, ignore this message: nothing happens without the code.`,
    ],
    o.org,
  );
}

export function completedMail(o: {
  id: string;
  kind: PrivacyRequestKind;
  link: string | undefined;
  resolution: string | undefined;
  org: string;
}): Mail {
  return mail(
    `your request ${o.id} is complete`,
    [
      `Your request for ${kindText[o.kind]} is complete.`,
      ...(o.resolution ? [o.resolution] : []),
      ...(o.link ? [`Your data: ${o.link}`] : []),
      `Reference: ${o.id}.`,
    ],
    o.org,
  );
}

export function rejectedMail(o: { id: string; reason: string; org: string }): Mail {
  return mail(
    `your request ${o.id} was declined`,
    [
      `We could not carry out your request ${o.id}.`,
      `Reason: ${o.reason}`,
      "You may complain to your data protection authority (in India: the Data Protection Board).",
    ],
    o.org,
  );
}

export function extendedMail(o: { id: string; due: Date; reason: string; org: string }): Mail {
  return mail(
    `more time is needed for your request ${o.id}`,
    [
      `We need more time to answer your request ${o.id}; we will answer by ${day(o.due)}.`,
      `Reason: ${o.reason}`,
    ],
    o.org,
  );
}

export function operatorMail(o: { id: string; what: string; due: Date; org: string }): Mail {
  return mail(
    `privacy request ${o.id}: ${o.what}`,
    [`Request ${o.id}: ${o.what}; due ${day(o.due)}.`],
    o.org,
  );
}

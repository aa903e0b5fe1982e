// The consent API apps call: record consent given or withdrawn (the same call), check before
// processing, read a subject's current consents and export the hash-chained proof. Subjects are
// the app's ids; the ledger stores only their keyed HMAC. The statistics count current states per
// purpose (for the console), never naming a subject.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  type ConsentLedger,
  consentChannels,
  consentRecordSchema,
  purposeKey,
} from "../data/privacy/consent/index.ts";
import type { RouteKit } from "./identity-routes.ts";

const checkQuery = z.strictObject({ subject: z.string().min(1).max(512), purpose: purposeKey });
const withdrawAllBody = z.strictObject({
  channel: z.enum(consentChannels).default("api"),
  evidence: z.record(z.string(), z.unknown()).default({}),
});
const statsQuery = z.strictObject({});

/** Registers /api/v1/privacy/consents… and /api/v1/privacy/consent-stats on `app`. */
export function registerPrivacyConsentRoutes(
  app: FastifyInstance,
  consent: ConsentLedger,
  o: RouteKit,
): void {
  const schema = { tags: ["privacy"], security: [{ bearer: [] }] };
  const subject = (req: FastifyRequest) => (req.params as { subject: string }).subject;

  app.post(
    "/api/v1/privacy/consents",
    {
      schema: {
        ...schema,
        description:
          "Record consent given or withdrawn: { subject, purpose, state: given|withdrawn, notice: { id, hash|text }, channel, jurisdiction, evidence?, expiresAt?, child?, parental?, subjectRef? }.",
      },
    },
    async (req, reply) => {
      const { actor } = await o.authorize(req, "privacy:consent-write");
      const entry = await consent.record(o.parseBody(consentRecordSchema, req.body), actor);
      return reply.status(201).send(entry);
    },
  );

  app.get(
    "/api/v1/privacy/consents/check",
    {
      schema: {
        ...schema,
        description:
          "Whether a purpose may be processed for a subject now: { allowed, state, noticeVersion, since, reason }; no record means not allowed.",
      },
    },
    async (req) => {
      await o.authorize(req, "privacy:consent-check");
      const q = o.parseBody(checkQuery, req.query ?? {});
      return consent.check(q.subject, q.purpose);
    },
  );

  app.post(
    "/api/v1/privacy/consents/:subject/withdraw-all",
    {
      schema: {
        ...schema,
        description: "Withdraw every consent the subject has given: { channel?, evidence? }.",
      },
    },
    async (req) => {
      const { actor } = await o.authorize(req, "privacy:consent-write");
      const body = o.parseBody(withdrawAllBody, req.body ?? {});
      return { withdrawn: await consent.withdrawAll(subject(req), actor, body) };
    },
  );

  app.get(
    "/api/v1/privacy/consents/:subject",
    { schema: { ...schema, description: "The subject's current consent per purpose." } },
    async (req) => {
      await o.authorize(req, "privacy:read");
      return consent.current(subject(req));
    },
  );

  app.get(
    "/api/v1/privacy/consents/:subject/proof",
    {
      schema: {
        ...schema,
        description:
          "Every ledger entry of the subject, hash-chained (SHA-256 over JCS), with the chain's verification.",
      },
    },
    async (req) => {
      await o.authorize(req, "privacy:read");
      return consent.proof(subject(req));
    },
  );

  app.get(
    "/api/v1/privacy/consent-stats",
    {
      schema: {
        ...schema,
        description:
          "Current consent per purpose: { at, subjects, purposes: [{ purpose, given, withdrawn, expired }] }; counts only, no subject.",
      },
    },
    async (req) => {
      await o.authorize(req, "privacy:read");
      o.parseBody(statsQuery, req.query ?? {});
      return consent.stats();
    },
  );
}

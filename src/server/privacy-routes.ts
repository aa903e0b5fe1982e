// Every privacy route on the control plane: the data map and its records of processing here, the
// rest from their own files (requests, consent, registers, breaches and retention).
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { buildRopa, renderRopaCsv, renderRopaJson, renderRopaMarkdown } from "../data/privacy/map/index.ts";
import type { RouteKit } from "./identity-routes.ts";
import type { Privacy } from "./privacy.ts";
import { registerPrivacyBreachRoutes } from "./privacy-breach-routes.ts";
import { registerPrivacyConsentRoutes } from "./privacy-consent-routes.ts";
import { registerPrivacyRegisterRoutes } from "./privacy-register-routes.ts";
import { registerPrivacyRequestRoutes } from "./privacy-request-routes.ts";
import type { Runtime } from "./runtime.ts";

const shredBody = z.strictObject({ identifier: z.string().trim().min(1).max(512) });

const ropaQuery = z.strictObject({
  format: z.enum(["json", "markdown", "csv"]).default("json"),
  controller: z.string().trim().min(1).max(200).optional(),
});

export function registerPrivacyRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, "privacy" | "config" | "clock">,
  o: RouteKit,
): void {
  const privacy: Privacy = rt.privacy;
  const schema = { tags: ["privacy"], security: [{ bearer: [] }] };

  app.get(
    "/api/v1/privacy/map",
    {
      schema: {
        ...schema,
        description: "The data map in force: systems, purposes, datasets, collections, fields and retention.",
      },
    },
    async (req) => {
      await o.authorize(req, "privacy:read");
      const { systems, purposes, datasets, retention } = privacy.map();
      const strip = (v: unknown) =>
        JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === "source" ? undefined : x)));
      return strip({ systems, purposes, datasets, retention });
    },
  );

  app.get(
    "/api/v1/privacy/ropa",
    {
      schema: {
        ...schema,
        description:
          "Records of processing (GDPR Art. 30) from the data map (?format=json|markdown|csv&controller=).",
      },
    },
    async (req, reply) => {
      await o.authorize(req, "privacy:read");
      const q = o.parseBody(ropaQuery, req.query);
      const options = {
        controller: q.controller ?? rt.config.privacy.requests.organisation,
        homeRegions: rt.config.privacy.register.homeRegions,
      };
      const records = buildRopa(privacy.map(), options);
      if (q.format === "markdown")
        return reply.type("text/markdown; charset=utf-8").send(renderRopaMarkdown(records, options));
      if (q.format === "csv") return reply.type("text/csv; charset=utf-8").send(renderRopaCsv(records));
      return reply.type("application/json").send(renderRopaJson(records));
    },
  );

  app.post(
    "/api/v1/privacy/audit-subjects/erase",
    {
      schema: {
        ...schema,
        description:
          "Crypto-shred a person in Rampart's audit log { identifier } (a user id such as corp:ana, or an email used as one): their entries stay and verify, their pseudonym no longer resolves and their sealed details read [erased]. Erasure requests do this for every identity they were given.",
      },
    },
    async (req) => {
      await o.authorize(req, "privacy:write");
      const { identifier } = o.parseBody(shredBody, req.body);
      return { erased: await privacy.shredAuditSubject(identifier) };
    },
  );

  registerPrivacyRequestRoutes(
    app,
    { requests: privacy.requests, config: () => rt.config.privacy.requests },
    o,
  );
  registerPrivacyConsentRoutes(app, privacy.consent, o);
  registerPrivacyRegisterRoutes(app, { privacyRegister: privacy.register }, o);
  registerPrivacyBreachRoutes(
    app,
    { breaches: privacy.breaches, retention: privacy.retention, clock: rt.clock },
    o,
  );
}

// Data-subject requests over HTTP. Public (no credential): intake, code verification, status,
// withdrawal, the requester's download, and the HTML page, all rate-limited per IP and small-bodied.
// Admin: list, show, approve, reject, extend, complete, retry and the export, behind RBAC
// (`privacy:read`, `privacy:write`; the export needs `privacy:export`, which `**:read` does not
// grant, because it is a person's data).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  approveSchema,
  completeSchema,
  intakeSchema,
  kindSchema,
  type PrivacyRequest,
  type PrivacyRequests,
  type PrivacyRequestsConfig,
  type PublicStatus,
  reasonSchema,
  recordSchema,
  stateSchema,
  tokenSchema,
  verifySchema,
} from "../data/privacy/requests/index.ts";
import { Invalid, RampartError } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";
import { codeForm, errorPage, pageHeaders, requestForm, statusPage } from "./privacy-request-page.ts";

/** Public bodies are a few fields: anything bigger is refused before it is parsed. */
export const PUBLIC_BODY_LIMIT = 16 * 1024;
/** IPs remembered by a limiter; past it the oldest are forgotten (a flood cannot grow memory). */
const MAX_TRACKED = 10_000;

export class TooManyRequests extends RampartError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super("rate_limited", 429, `too many requests; try again in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A token bucket per key, in memory: `burst` tokens refilled at `perMinute`. */
export function tokenBuckets(o: () => { burst: number; perMinute: number }, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** Takes a token for `key`, or throws TooManyRequests saying when one will be there. */
    take(key: string): void {
      const { burst, perMinute } = o();
      const t = now();
      const b = buckets.get(key) ?? { tokens: burst, at: t };
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 60_000) * perMinute);
      b.at = t;
      buckets.delete(key); // re-inserted last: the Map's order is least recently used first
      if (b.tokens < 1) {
        buckets.set(key, b);
        throw new TooManyRequests(Math.max(1, Math.ceil(((1 - b.tokens) / perMinute) * 60)));
      }
      b.tokens -= 1;
      buckets.set(key, b);
      if (buckets.size > MAX_TRACKED) buckets.delete(buckets.keys().next().value as string);
    },
  };
}

const idParam = z.strictObject({ id: z.string().regex(/^dsr_[a-z0-9]{20,40}$/, "not a request id") });
const statusQuery = z.strictObject({ token: z.string().min(20).max(200) });
const downloadQuery = z.strictObject({
  token: z.string().min(20).max(200),
  format: z.enum(["json", "csv", "html"]).optional(),
});
const exportQuery = z.strictObject({ format: z.enum(["json", "csv", "html"]).default("json") });
const listQuery = z.strictObject({
  state: stateSchema.optional(),
  kind: kindSchema.optional(),
  due: z.enum(["overdue", "soon", "open"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const formIntake = z.strictObject({
  kind: z.string().max(32),
  email: z.string().max(254),
  details: z.string().max(4000).optional(),
});
const formVerify = z.strictObject({
  id: z.string().max(64),
  token: z.string().max(200),
  code: z.string().max(20),
});
const formToken = z.strictObject({ id: z.string().max(64), token: z.string().max(200) });

/** `a•••@example.com`: enough for an operator to tell requests apart in a list. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return "•••";
  return `${email[0]}•••${email.slice(at)}`;
}
const listed = (r: PrivacyRequest) => ({
  ...r,
  email: maskEmail(r.email),
  principalEmail: r.principalEmail ? maskEmail(r.principalEmail) : null,
});

/** Registers the public /privacy/… routes and the admin /api/v1/privacy/requests… routes. */
export function registerPrivacyRequestRoutes(
  app: FastifyInstance,
  deps: { readonly requests: PrivacyRequests; readonly config: () => PrivacyRequestsConfig },
  o: RouteKit,
): void {
  const { requests, config } = deps;
  const intakeLimit = tokenBuckets(() => config().rateLimit);
  // Codes and status checks: a few more tries than intakes, still far too few to guess a code across requests.
  const verifyLimit = tokenBuckets(() => {
    const r = config().rateLimit;
    return { burst: r.verifyBurst, perMinute: r.verifyPerMinute };
  });
  const param = (req: FastifyRequest) => o.parseBody(idParam, req.params).id;
  const limited = (limit: ReturnType<typeof tokenBuckets>, req: FastifyRequest, reply: FastifyReply) => {
    try {
      limit.take(req.ip);
    } catch (err) {
      if (err instanceof TooManyRequests) reply.header("retry-after", String(err.retryAfterSeconds));
      throw err;
    }
  };

  // Public routes live in their own scope: a form parser and a small body limit only for them.
  void app.register(async (pub) => {
    pub.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: PUBLIC_BODY_LIMIT },
      (_req, body, done) => {
        const out: Record<string, string> = {};
        for (const [k, v] of new URLSearchParams(body as string)) {
          if (Object.hasOwn(out, k)) return done(new Invalid(`field '${k}' given twice`, "body"));
          out[k] = v;
        }
        done(null, out);
      },
    );
    const pubOpts = (description: string) => ({
      bodyLimit: PUBLIC_BODY_LIMIT,
      schema: { tags: ["privacy (public)"], description },
    });

    pub.post(
      "/privacy/requests",
      pubOpts(
        "Make a request: { kind, email, details?, appToken? } (nominee and grievance take more). Answers the id, the next step and a status token shown once; never whether we hold data on the person.",
      ),
      async (req, reply) => {
        limited(intakeLimit, req, reply);
        return reply.status(202).send(await requests.submit(o.parseBody(intakeSchema, req.body)));
      },
    );

    pub.post(
      "/privacy/requests/:id/verify",
      pubOpts("Confirm a request with the emailed code: { code }. Five wrong codes lock it."),
      async (req, reply) => {
        limited(verifyLimit, req, reply);
        return requests.verifyCode(param(req), o.parseBody(verifySchema, req.body).code);
      },
    );

    pub.post(
      "/privacy/requests/:id/resend",
      pubOpts("Mail a new code: { token } (the status token)."),
      async (req, reply) => {
        limited(intakeLimit, req, reply);
        return requests.resendCode(param(req), o.parseBody(tokenSchema, req.body).token);
      },
    );

    pub.post(
      "/privacy/requests/:id/cancel",
      pubOpts("Withdraw a request not yet carried out: { token }."),
      async (req, reply) => {
        limited(verifyLimit, req, reply);
        return requests.cancel(param(req), o.parseBody(tokenSchema, req.body).token);
      },
    );

    pub.get(
      "/privacy/requests/:id/status",
      pubOpts("Where a request stands: ?token= (the status token from intake)."),
      async (req, reply) => {
        limited(verifyLimit, req, reply);
        return requests.status(param(req), o.parseBody(statusQuery, req.query).token);
      },
    );

    pub.get(
      "/privacy/requests/:id/download",
      pubOpts("The requester's data: ?token= (from the completion mail), format=json|csv|html."),
      async (req, reply) => {
        limited(verifyLimit, req, reply);
        const q = o.parseBody(downloadQuery, req.query);
        const out = await requests.download(param(req), q.token, q.format);
        return reply
          .header("content-type", out.contentType)
          .header("content-disposition", `attachment; filename="${param(req)}.${q.format ?? "export"}"`)
          .header("cache-control", "no-store")
          .header("x-content-type-options", "nosniff")
          .header("content-security-policy", "default-src 'none'; sandbox")
          .send(out.body);
      },
    );

    // The HTML page: forms that post here and answer HTML.
    const html = (reply: FastifyReply, status: number, body: string) =>
      reply.status(status).headers(pageHeaders).send(body);
    const failure = (reply: FastifyReply, err: unknown, render: (message: string) => string) => {
      if (!(err instanceof RampartError) || err.status >= 500) throw err;
      return html(reply, err.status, render(err.message));
    };
    const org = () => config().organisation;
    const pageOn = () => {
      if (!config().publicPage)
        throw new RampartError("not_found", 404, "the privacy request page is turned off");
    };

    pub.get("/privacy/request", pubOpts("The request form (HTML)."), async (_req, reply) => {
      pageOn();
      return html(reply, 200, requestForm({ org: org() }));
    });

    pub.post("/privacy/request", pubOpts("The form's submission (HTML answer)."), async (req, reply) => {
      pageOn();
      const form = formIntake.safeParse(req.body);
      if (!form.success)
        return html(reply, 400, requestForm({ org: org(), error: "Please fill in the form." }));
      const values = form.data;
      try {
        limited(intakeLimit, req, reply);
        const input = intakeSchema.parse({
          kind: values.kind,
          email: values.email,
          ...(values.details?.trim() ? { details: values.details } : {}),
        });
        const r = await requests.submit(input);
        return html(
          reply,
          202,
          codeForm({ org: org(), id: r.id, token: r.statusToken, sent: r.next === "enter_code" }),
        );
      } catch (err) {
        if (err instanceof z.ZodError)
          return html(
            reply,
            400,
            requestForm({
              org: org(),
              values,
              error: `Please check: ${err.issues.map((i) => i.path.join(".")).join(", ")}.`,
            }),
          );
        return failure(reply, err, (message) => requestForm({ org: org(), values, error: message }));
      }
    });

    pub.post(
      "/privacy/request/verify",
      pubOpts("The code form's submission (HTML answer)."),
      async (req, reply) => {
        pageOn();
        const form = formVerify.safeParse(req.body);
        if (!form.success)
          return html(reply, 400, errorPage({ org: org(), message: "The form was incomplete." }));
        const { id, token, code } = form.data;
        try {
          limited(verifyLimit, req, reply);
          await requests.status(id, token); // the hidden token must match before a code is tried
          const s: PublicStatus = await requests.verifyCode(id, o.parseBody(verifySchema, { code }).code);
          return html(reply, 200, statusPage({ org: org(), status: s }));
        } catch (err) {
          if (err instanceof RampartError && err.status === 404)
            return html(reply, 404, errorPage({ org: org(), message: err.message }));
          return failure(reply, err, (message) =>
            codeForm({ org: org(), id, token, sent: true, error: message }),
          );
        }
      },
    );

    pub.post("/privacy/request/resend", pubOpts("Ask for a new code (HTML answer)."), async (req, reply) => {
      pageOn();
      const form = formToken.safeParse(req.body);
      if (!form.success)
        return html(reply, 400, errorPage({ org: org(), message: "The form was incomplete." }));
      const { id, token } = form.data;
      try {
        limited(intakeLimit, req, reply);
        const s = await requests.resendCode(id, token);
        return html(reply, 200, codeForm({ org: org(), id, token, sent: s.next === "enter_code" }));
      } catch (err) {
        if (err instanceof RampartError && err.status === 404)
          return html(reply, 404, errorPage({ org: org(), message: err.message }));
        return failure(reply, err, (message) =>
          codeForm({ org: org(), id, token, sent: true, error: message }),
        );
      }
    });
  });

  // Admin API.
  const schema = { tags: ["privacy"], security: [{ bearer: [] }] };
  const read = (req: FastifyRequest) => o.authorize(req, "privacy:read");
  const write = async (req: FastifyRequest) => (await o.authorize(req, "privacy:write")).actor;
  const base = "/api/v1/privacy/requests";

  app.get(
    base,
    {
      schema: {
        ...schema,
        description:
          "Requests, newest first (by due date with due=overdue|soon|open); filter by state, kind; limit. Addresses are masked.",
      },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(listQuery, req.query ?? {});
      const list = await requests.list({
        ...(q.state ? { state: q.state } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.due ? { due: q.due } : {}),
        ...(q.limit ? { limit: q.limit } : {}),
      });
      return { requests: list.map(listed) };
    },
  );

  app.post(
    base,
    {
      schema: {
        ...schema,
        description:
          "Record a request received by post, phone or in person: { request: <as the public intake>, identityCheck }. It starts verified.",
      },
    },
    async (req, reply) => {
      const by = await write(req);
      const body = o.parseBody(recordSchema, req.body);
      return reply.status(201).send(await requests.record(body.request, by, body.identityCheck));
    },
  );

  app.get(
    `${base}/:id`,
    { schema: { ...schema, description: "One request with its history." } },
    async (req) => {
      await read(req);
      return requests.get(param(req));
    },
  );

  app.post(
    `${base}/:id/approve`,
    {
      schema: {
        ...schema,
        description:
          "Approve a verified request for the engine: { note?, corrections? } (corrections for a rectification).",
      },
    },
    async (req) => {
      const by = await write(req); // the caller first: strangers learn nothing from validation
      return requests.approve(param(req), by, o.parseBody(approveSchema, req.body ?? {}));
    },
  );

  app.post(
    `${base}/:id/reject`,
    { schema: { ...schema, description: "Decline a request: { reason } (mailed to the requester)." } },
    async (req) => {
      const by = await write(req); // the caller first: strangers learn nothing from validation
      return requests.reject(param(req), by, o.parseBody(reasonSchema, req.body).reason);
    },
  );

  app.post(
    `${base}/:id/extend`,
    {
      schema: {
        ...schema,
        description:
          "Extend the deadline once by the configured months (GDPR Art. 12(3)): { reason } (mailed).",
      },
    },
    async (req) => {
      const by = await write(req); // the caller first: strangers learn nothing from validation
      return requests.extend(param(req), by, o.parseBody(reasonSchema, req.body).reason);
    },
  );

  app.post(
    `${base}/:id/complete`,
    {
      schema: {
        ...schema,
        description:
          "Close a request a person carried out (objection, withdrawal, grievance): { resolution, link? }.",
      },
    },
    async (req) => {
      const by = await write(req);
      const body = o.parseBody(completeSchema, req.body);
      return requests.complete(param(req), by, { resolution: body.resolution, link: body.link });
    },
  );

  app.post(
    `${base}/:id/retry`,
    { schema: { ...schema, description: "Run a failed request again now." } },
    async (req) => {
      const by = await write(req);
      o.parseBody(z.strictObject({}).optional(), req.body);
      return requests.retry(param(req), by);
    },
  );

  app.get(
    `${base}/:id/export`,
    {
      schema: {
        ...schema,
        description:
          "The access export of a completed access/portability request: ?format=json|csv|html. Needs privacy:export.",
      },
    },
    async (req, reply) => {
      await o.authorize(req, "privacy:export");
      const id = param(req);
      const { format } = o.parseBody(exportQuery, req.query ?? {});
      const out = await requests.exportOf(id, format);
      return reply
        .header("content-type", out.contentType)
        .header("content-disposition", `attachment; filename="${id}.${format}"`)
        .header("cache-control", "no-store")
        .header("content-security-policy", "default-src 'none'; sandbox")
        .send(out.body);
    },
  );
}

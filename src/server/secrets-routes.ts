// The secrets API: values, versions and metadata under /api/v1/secrets, the store's seal and keys,
// backup and restore, and the incident-response hooks (who read a secret, what a principal could
// read). Data routes only authenticate: the secrets policies decide per path. Admin routes also
// name an RBAC action.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { secretPath, secretPrefix, type Secrets } from "../appsec/secrets/index.ts";
import type { RotationScheduler } from "../appsec/secrets/rotation/index.ts";
import type { Identity } from "../identity/types.ts";
import { type AuditTables, queryEntries } from "../monitoring/audit/index.ts";
import { Invalid, NotFound, Unavailable } from "../platform/errors.ts";
import type { Caller } from "./callers.ts";
import type { RouteKit } from "./identity-routes.ts";
import type { Runtime } from "./runtime.ts";

const PREFIX = "/api/v1/secrets";
// Backups carry every ciphertext: allow more than the API's default body limit.
const RESTORE_BODY_LIMIT = 512 * 1024 * 1024;
// Bounds the audit scan of one "readers" question (1000 entries a page).
const MAX_READER_PAGES = 200;

const version = z.number().int().positive();
const versions = z.array(version).min(1).max(1000);
const putBody = z.strictObject({
  data: z.record(z.string(), z.string()),
  cas: z.number().int().min(0).optional(),
});
const metadataBody = z.strictObject({
  owner: z.string().nullable().optional(),
  rotationPeriodDays: z.number().nullable().optional(),
  expiresAt: z.string().nullable().optional(),
  maxVersions: z.number().int().optional(),
  rotator: z.string().nullable().optional(),
});
const deleteBody = z.strictObject({ versions: versions.optional() });
const versionsBody = z.strictObject({ versions });
const rollbackBody = z.strictObject({ version });
const revokeBody = z.strictObject({ version, reason: z.string().trim().min(1).max(1000) });
const unsealBody = z.strictObject({ share: z.string().min(1).max(4096) });
const restoreBody = z.strictObject({ document: z.string().min(1) });
const versionQuery = z.object({
  version: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, "expected a version number >= 1")
    .transform(Number)
    .optional(),
});
const diffQuery = z.object({
  from: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, "expected a version number >= 1")
    .transform(Number),
  to: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, "expected a version number >= 1")
    .transform(Number),
});
const readersQuery = z.object({ since: z.iso.datetime({ offset: true }) });
const list = z
  .string()
  .optional()
  .transform((s) =>
    s
      ? s
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean)
      : [],
  );
const readableQuery = z.object({
  kind: z.enum(["user", "service"]),
  subject: z.string().trim().min(1).max(512),
  groups: list,
  roles: list,
});

/** One principal's reads of a path, as the audit log recorded them. */
export interface SecretReader {
  /** `kind:id`; a person whose audit identity was erased stays their subject key. */
  actor: string;
  reads: number;
  versions: number[];
  firstAt: string;
  lastAt: string;
}

/** How one key differs between two versions; values are never part of the answer. */
export type KeyChange = "added" | "removed" | "changed" | "unchanged";

/** Registers /api/v1/secrets/*; the store and scheduler come from the runtime (undefined: not open). */
export function registerSecretsRoutes(app: FastifyInstance, rt: Runtime, kit: RouteKit): void {
  const { authorize, parseBody } = kit;
  const authenticate = (req: FastifyRequest): Promise<Caller> => rt.identity.callers.authenticate(req);
  const tags = { tags: ["secrets"], security: [{ bearer: [] }] };

  const store = (): Secrets => {
    if (!rt.secrets)
      throw new Unavailable(`the secrets store is not open: ${rt.secretsProblem ?? "see the server log"}`);
    return rt.secrets;
  };
  const scheduler = (): RotationScheduler => {
    if (!rt.secretsRotation) throw new Unavailable("secret rotation is not running on this server");
    return rt.secretsRotation;
  };
  // The `*` part of the URL is the secret path without its leading slash.
  const rest = (req: FastifyRequest) => `/${(req.params as { "*"?: string })["*"] ?? ""}`;
  const pathOf = (req: FastifyRequest) => secretPath(rest(req), "path");
  const query = <T>(schema: z.ZodType<T>, req: FastifyRequest): T => {
    const r = schema.safeParse(req.query ?? {});
    if (r.success) return r.data;
    const first = r.error.issues[0];
    throw new Invalid(first?.message ?? "invalid query", String(first?.path[0] ?? "query"));
  };

  app.get(
    `${PREFIX}/data/*`,
    {
      schema: {
        ...tags,
        description:
          "A secret's newest version (404 when it is deleted, destroyed or revoked), or ?version=N: { path, version, createdAt, data }.",
      },
    },
    async (req) => {
      const caller = await authenticate(req);
      const { version: wanted } = query(versionQuery, req);
      return store().get(caller, pathOf(req), wanted === undefined ? {} : { version: wanted });
    },
  );

  app.put(
    `${PREFIX}/data/*`,
    {
      schema: {
        ...tags,
        description: "Write a new version: { data: {key: value}, cas?: N } (cas 0: the path must be new).",
      },
    },
    async (req) => {
      const caller = await authenticate(req);
      const body = parseBody(putBody, req.body);
      return store().put(caller, pathOf(req), body.data, body.cas === undefined ? {} : { cas: body.cas });
    },
  );

  app.get(
    `${PREFIX}/list/*`,
    {
      schema: {
        ...tags,
        description: "Paths under a prefix (/prod/ or /prod/api/) you may list: { paths }.",
      },
    },
    async (req) => {
      const caller = await authenticate(req);
      return { paths: await store().list(caller, secretPrefix(rest(req), "prefix")) };
    },
  );

  app.get(
    `${PREFIX}/metadata/*`,
    { schema: { ...tags, description: "A secret's metadata and version history, never values." } },
    async (req) => store().metadata(await authenticate(req), pathOf(req)),
  );

  app.get(
    `${PREFIX}/capabilities/*`,
    {
      schema: {
        ...tags,
        description:
          "What the secrets policies let the caller do on a path: { path, capabilities: [read|list|create|update|delete|rotate] }.",
      },
    },
    async (req) => {
      const path = pathOf(req);
      return { path, capabilities: store().capabilities(await authenticate(req), path) };
    },
  );

  app.patch(
    `${PREFIX}/metadata/*`,
    {
      schema: {
        ...tags,
        description: "Change owner, rotationPeriodDays, expiresAt, maxVersions or rotator (null clears).",
      },
    },
    async (req) => {
      const caller = await authenticate(req);
      const patch = parseBody(metadataBody, req.body);
      // Only the fields given: an absent field stays as it is.
      const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      return store().setMetadata(caller, pathOf(req), given);
    },
  );

  app.post(
    `${PREFIX}/delete/*`,
    { schema: { ...tags, description: "Soft-delete versions (default the newest): { versions? }." } },
    async (req) => {
      const caller = await authenticate(req);
      const path = pathOf(req);
      const body = parseBody(deleteBody, req.body ?? {});
      await store().delete(caller, path, body.versions);
      return { path, deleted: body.versions ?? "newest" };
    },
  );

  app.post(
    `${PREFIX}/undelete/*`,
    { schema: { ...tags, description: "Bring soft-deleted versions back: { versions }." } },
    async (req) => {
      const caller = await authenticate(req);
      const path = pathOf(req);
      const body = parseBody(versionsBody, req.body);
      await store().undelete(caller, path, body.versions);
      return { path, undeleted: body.versions };
    },
  );

  app.post(
    `${PREFIX}/destroy/*`,
    { schema: { ...tags, description: "Destroy the ciphertext of versions for good: { versions }." } },
    async (req) => {
      const caller = await authenticate(req);
      const path = pathOf(req);
      const body = parseBody(versionsBody, req.body);
      await store().destroy(caller, path, body.versions);
      return { path, destroyed: body.versions };
    },
  );

  app.post(
    `${PREFIX}/rollback/*`,
    { schema: { ...tags, description: "Write an old version's value again as a new version: { version }." } },
    async (req) => {
      const caller = await authenticate(req);
      const body = parseBody(rollbackBody, req.body);
      return store().rollback(caller, pathOf(req), body.version);
    },
  );

  app.post(
    `${PREFIX}/revoke/*`,
    {
      schema: {
        ...tags,
        description: "Incident response: a version can never be read again: { version, reason }. Alerts.",
      },
    },
    async (req) => {
      const caller = await authenticate(req);
      const path = pathOf(req);
      const body = parseBody(revokeBody, req.body);
      await store().revoke(caller, path, body.version, body.reason);
      return { path, revoked: body.version };
    },
  );

  app.post(
    `${PREFIX}/rotate/*`,
    { schema: { ...tags, description: "Rotate a secret that has a rotation schedule now." } },
    async (req) => {
      const caller = await authenticate(req);
      return scheduler().rotateNow(caller, pathOf(req));
    },
  );

  app.get(
    `${PREFIX}/status`,
    { schema: { ...tags, description: "Sealed or not, root key provider, current key-encryption key." } },
    async (req) => {
      await authenticate(req);
      if (!rt.secrets) return { open: false, sealed: true, problem: rt.secretsProblem ?? "not open" };
      const s = rt.secrets.status();
      return { open: true, ...s, ...(s.sealed ? { hint: "unseal it with `rampart secrets unseal`" } : {}) };
    },
  );

  app.post(
    `${PREFIX}/unseal`,
    { schema: { ...tags, description: "Submit one Shamir share: { share }; unseals at the threshold." } },
    async (req) => {
      const { actor } = await authorize(req, "secrets:unseal");
      return store().unseal(parseBody(unsealBody, req.body).share, actor);
    },
  );

  app.post(
    `${PREFIX}/keys/rotate`,
    {
      schema: {
        ...tags,
        description: "Make a new key-encryption key; older data keys are re-wrapped in the background.",
      },
    },
    async (req) => {
      const { actor } = await authorize(req, "secrets:keys:rotate");
      const { version: kekVersion } = await store().rotateKek(actor);
      rt.rewrapSecrets();
      return { kekVersion, rewrap: "started" };
    },
  );

  app.get(
    `${PREFIX}/backup`,
    {
      schema: { ...tags, description: "The encrypted store as a verifiable backup document (no plaintext)." },
    },
    async (req) => {
      const { actor } = await authorize(req, "secrets:backup");
      return { document: await store().backup(actor) };
    },
  );

  app.post(
    `${PREFIX}/restore`,
    {
      bodyLimit: RESTORE_BODY_LIMIT,
      schema: {
        ...tags,
        description: "Load a backup into an empty store, verified first, all or nothing: { document }.",
      },
    },
    async (req) => {
      const { actor } = await authorize(req, "secrets:restore");
      return store().restore(parseBody(restoreBody, req.body).document, actor);
    },
  );

  app.get(
    `${PREFIX}/diff/*`,
    {
      schema: {
        ...tags,
        description:
          "Which keys were added, removed or changed between ?from=N and ?to=M, from the audit log's keyed digests: never values, and not a read.",
      },
    },
    async (req) => {
      const caller = await authenticate(req);
      const path = pathOf(req);
      const { from, to } = query(diffQuery, req);
      // Seeing the metadata (the list capability) is what this needs: it reveals no value.
      const meta = await store().metadata(caller, path);
      for (const v of [from, to])
        if (!meta.versions.some((x) => x.version === v)) throw new NotFound(`${path} has no version ${v}`);
      await rt.bus.flush();
      const digests = await digestsOf(rt, path);
      const a = digests.get(from);
      const b = digests.get(to);
      const missing = [from, to].filter((v) => !digests.has(v));
      if (!a || !b)
        throw new NotFound(
          `the audit log holds no key record for version ${missing.join(" and ")} of ${path} (written by rotation, or past audit retention)`,
        );
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      return {
        path,
        from,
        to,
        keys: keys.map((key) => {
          const change: KeyChange = !(key in a)
            ? "added"
            : !(key in b)
              ? "removed"
              : a[key] === b[key]
                ? "unchanged"
                : "changed";
          return { key, change };
        }),
      };
    },
  );

  app.get(
    `${PREFIX}/readers/*`,
    {
      schema: {
        ...tags,
        description: "Incident response: who read this secret since ?since=ISO (audit log).",
      },
    },
    async (req) => {
      await authorize(req, "audit:read");
      const path = pathOf(req);
      const { since } = query(readersQuery, req);
      // Reads still in the event batcher count too.
      await rt.bus.flush();
      return { path, since, readers: await readersOf(rt, path, since) };
    },
  );

  app.get(
    `${PREFIX}/readable`,
    {
      schema: {
        ...tags,
        description:
          "Incident response: paths a principal could read: ?kind=user|service&subject=…&groups=a,b&roles=….",
      },
    },
    async (req) => {
      const caller = await authorize(req, "secrets:list");
      const q = query(readableQuery, req);
      const principal: Identity = {
        kind: q.kind,
        subject: q.subject,
        groups: q.groups,
        roles: q.roles,
        claims: {},
        credential: q.kind === "user" ? "session" : "api-key",
      };
      return {
        principal: { kind: q.kind, subject: q.subject },
        paths: await store().readableBy(caller, principal),
      };
    },
  );
}

/**
 * Each version's keys with their keyed value digests, from `secrets.written` events; a rollback's
 * version holds the value of the version it came from.
 */
async function digestsOf(rt: Runtime, path: string): Promise<Map<number, Record<string, string>>> {
  const db = rt.store.db.withTables<AuditTables>();
  const written = new Map<number, Record<string, string>>();
  const rolledBack = new Map<number, number>();
  for (const type of ["secrets.written", "secrets.rolled_back"]) {
    let cursor: string | undefined;
    for (let page = 0; page < MAX_READER_PAGES; page++) {
      const { entries, next } = await queryEntries(
        db,
        { type, target: `secret:${path}`, limit: 1000, cursor },
        async (ref) => ref,
      );
      for (const e of entries) {
        if (e.outcome !== "success") continue;
        const v = e.data.version;
        if (typeof v !== "number") continue;
        const values = e.data.values;
        if (type === "secrets.written" && values && typeof values === "object")
          written.set(v, values as Record<string, string>);
        if (type === "secrets.rolled_back" && typeof e.data.from === "number") rolledBack.set(v, e.data.from);
      }
      if (!next) break;
      cursor = next;
    }
  }
  // Follow rollbacks of rollbacks back to a written version (bounded: versions only point lower).
  for (const [v, from] of [...rolledBack.entries()].sort(([x], [y]) => x - y)) {
    const source = written.get(from);
    if (source) written.set(v, source);
  }
  return written;
}

/** Successful `secrets.read` events on `path` since `since`, grouped by actor (people by identifier). */
async function readersOf(rt: Runtime, path: string, since: string): Promise<SecretReader[]> {
  const db = rt.store.db.withTables<AuditTables>();
  const byActor = new Map<string, SecretReader>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_READER_PAGES; page++) {
    const { entries, next } = await queryEntries(
      db,
      { type: "secrets.read", target: `secret:${path}`, from: since, limit: 1000, cursor },
      async (ref) => ref,
    );
    for (const e of entries) {
      if (e.outcome !== "success") continue;
      const r = byActor.get(e.actor) ?? {
        actor: e.actor,
        reads: 0,
        versions: [],
        firstAt: e.time,
        lastAt: e.time,
      };
      r.reads++;
      const v = e.data.version;
      if (typeof v === "number" && !r.versions.includes(v)) r.versions.push(v);
      if (e.time < r.firstAt) r.firstAt = e.time;
      if (e.time > r.lastAt) r.lastAt = e.time;
      byActor.set(e.actor, r);
    }
    if (!next) break;
    cursor = next;
  }
  // The audit log names people by subject key; incident response needs the person.
  const keys = [...byActor.keys()].filter((a) => a.startsWith("user:")).map((a) => a.slice(5));
  const names = new Map<string, string>();
  if (keys.length > 0) {
    const rows = await db
      .selectFrom("audit_subjects")
      .select(["subject_key", "identifier"])
      .where("subject_key", "in", keys)
      .execute();
    for (const row of rows) names.set(`user:${row.subject_key}`, `user:${row.identifier}`);
  }
  return [...byActor.values()]
    .map((r) => ({ ...r, actor: names.get(r.actor) ?? r.actor, versions: r.versions.sort((a, b) => a - b) }))
    .sort((a, b) => a.actor.localeCompare(b.actor));
}

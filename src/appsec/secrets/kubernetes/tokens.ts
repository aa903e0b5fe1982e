// One machine token per namespace: random, shown once, stored as SHA-256 and compared in constant
// time. Rotation issues a new token and lets the old one work for a grace period; revoke ends all.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Kysely } from "kysely";
import type { Clock } from "../../../platform/clock.ts";
import { Conflict, Invalid } from "../../../platform/errors.ts";
import type { Store } from "../../../platform/store/index.ts";
import type { KubernetesTables } from "./tables.ts";

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PREFIX = "rk8s_";

export interface IssuedToken {
  namespace: string;
  /** Shown once; only its hash is stored. */
  token: string;
  /** When the tokens it replaced stop working (rotation), if any were replaced. */
  previousExpiresAt?: string;
}

export interface MachineTokens {
  /**
   * Issues a token for the namespace. Without `rotate`, a namespace that has a live token is a
   * Conflict; with it, the older tokens keep working for `graceSeconds` (default 0: they stop now).
   */
  issue(namespace: string, opts?: { rotate?: boolean; graceSeconds?: number }): Promise<IssuedToken>;
  /** Ends every token of the namespace now; returns how many were live. */
  revoke(namespace: string): Promise<number>;
  /** Whether `token` is a live token of `namespace`. */
  verify(namespace: string, token: string): Promise<boolean>;
}

export const DEFAULT_ROTATION_GRACE_SECONDS = 3600;

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** Checks a Kubernetes namespace name. */
export function namespaceName(namespace: unknown, where = "namespace"): string {
  if (typeof namespace !== "string" || namespace.length > 63 || !NAMESPACE.test(namespace)) {
    throw new Invalid(
      "expected a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)",
      where,
    );
  }
  return namespace;
}

/** Machine tokens over their table. */
export function createMachineTokens(o: { store: Store; clock: Clock }): MachineTokens {
  const db: Kysely<KubernetesTables> = o.store.db.withTables<KubernetesTables>();
  const live = (namespace: string, now: Date) =>
    db
      .selectFrom("secret_k8s_tokens")
      .select(["id", "token_hash"])
      .where("namespace", "=", namespace)
      .where("revoked_at", "is", null)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]));

  return {
    async issue(namespace, opts = {}) {
      namespaceName(namespace);
      const grace = opts.graceSeconds ?? 0;
      if (!Number.isInteger(grace) || grace < 0 || grace > 30 * 86_400) {
        throw new Invalid("expected 0 to 2592000 seconds", "graceSeconds");
      }
      const now = o.clock.now();
      const token = `${PREFIX}${randomBytes(32).toString("base64url")}`;
      const end = new Date(now.getTime() + grace * 1000);
      const replaced = await db.transaction().execute(async (tx) => {
        if (!opts.rotate) {
          const existing = await tx
            .selectFrom("secret_k8s_tokens")
            .select("id")
            .where("namespace", "=", namespace)
            .where("revoked_at", "is", null)
            .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
            .executeTakeFirst();
          if (existing)
            throw new Conflict(`namespace ${namespace} already has a machine token: rotate or revoke it`);
        }
        const r = await tx
          .updateTable("secret_k8s_tokens")
          .set({ expires_at: end })
          .where("namespace", "=", namespace)
          .where("revoked_at", "is", null)
          .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", end)]))
          .executeTakeFirst();
        await tx
          .insertInto("secret_k8s_tokens")
          .values({
            id: randomUUID(),
            namespace,
            token_hash: sha256(token),
            created_at: now,
            expires_at: null,
            revoked_at: null,
          })
          .execute();
        return Number(r.numUpdatedRows);
      });
      return { namespace, token, ...(replaced > 0 ? { previousExpiresAt: end.toISOString() } : {}) };
    },
    async revoke(namespace) {
      namespaceName(namespace);
      const now = o.clock.now();
      const ids = (await live(namespace, now).execute()).map((r) => r.id);
      if (ids.length === 0) return 0;
      await db.updateTable("secret_k8s_tokens").set({ revoked_at: now }).where("id", "in", ids).execute();
      return ids.length;
    },
    async verify(namespace, token) {
      if (!token.startsWith(PREFIX) || token.length > 200) return false;
      const hash = sha256(token);
      const rows = await live(namespace, o.clock.now()).execute();
      // Compare with every live hash, without stopping early, so timing says nothing about which matched.
      let ok = false;
      for (const row of rows) {
        const stored = Buffer.from(row.token_hash);
        if (stored.length === hash.length && timingSafeEqual(stored, hash)) ok = true;
      }
      return ok;
    },
  };
}

// PostgreSQL login roles, rotated with alternating users (as AWS Secrets Manager does): `<role>_a`
// and `<role>_b` are both members of `<role>`, which holds the grants. A rotation sets a new
// password on the user consumers are not using; after the grace period the other user gets
// NOLOGIN and a password nobody knows, so the old credential stops working.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import pg from "pg";
import { Invalid, NotFound } from "../../../platform/errors.ts";
import { consumerUrl, newPassword, parseAdminUrl } from "./credentials.ts";
import type { CredentialData, Rotator } from "./types.ts";

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677 with PostgreSQL's
 * 4096 iterations). Sending the verifier instead of the password keeps the password out of the
 * server's statement logs and pg_stat_statements.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Rotates the password of `<role>_a`/`<role>_b` through an admin connection allowed to CREATE/ALTER ROLE. */
export function postgresRotator(target: { adminUrl: string; role: string }): Rotator {
  const where = `rotation target ${target.role}`;
  const admin = parseAdminUrl(target.adminUrl, `${where}: adminUrl`, ["postgres:", "postgresql:"]);
  const users = [`${target.role}_a`, `${target.role}_b`];
  const id = pg.escapeIdentifier;

  async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: target.adminUrl, connectionTimeoutMillis: 5000 });
    client.on("error", () => {}); // a lost connection surfaces as the failed query
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
  const roleExists = async (c: pg.Client, name: string) =>
    (await c.query("select 1 from pg_roles where rolname = $1", [name])).rowCount === 1;

  async function retire(previous: CredentialData, current: CredentialData | undefined): Promise<void> {
    const user = previous.username;
    if (!user || user === current?.username) return;
    // Only the users this rotator manages: never lock a login the secret merely names.
    if (user !== target.role && !users.includes(user)) {
      throw new Invalid(
        `refusing to retire ${user}: not ${target.role} or one of ${users.join(", ")}`,
        where,
      );
    }
    const unknown = pg.escapeLiteral(scramVerifier(newPassword()));
    await withAdmin(async (c) => {
      if (await roleExists(c, user)) await c.query(`alter role ${id(user)} with nologin password ${unknown}`);
    });
  }

  return {
    kind: "postgres",
    async rotate(current) {
      const next = current?.username === users[0] ? users[1]! : users[0]!;
      const password = newPassword();
      const secret = pg.escapeLiteral(scramVerifier(password));
      await withAdmin(async (c) => {
        if (!(await roleExists(c, target.role))) {
          throw new NotFound(`${where}: role ${target.role} does not exist on the PostgreSQL server`);
        }
        if (await roleExists(c, next)) {
          await c.query(`alter role ${id(next)} with login password ${secret}`);
          // Membership may have been revoked by hand; granting it again is harmless.
          await c.query(`grant ${id(target.role)} to ${id(next)}`);
        } else {
          await c.query(`create role ${id(next)} with login password ${secret} in role ${id(target.role)}`);
        }
      });
      return {
        ...current,
        username: next,
        password,
        host: admin.hostname,
        port: admin.port || "5432",
        url: consumerUrl(admin, next, password),
      };
    },
    // The unused user keeps a password nobody holds, which is harmless; locking it could break a
    // credential another server stored for the same user in the meantime.
    async discard() {},
    retire,
  };
}

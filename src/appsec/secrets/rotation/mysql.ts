// MySQL/MariaDB users, rotated with alternating users: MariaDB has no dual passwords, so
// `<user>_a`@host and `<user>_b`@host take turns. A new user gets the grants of the one in use
// (SHOW GRANTS); after the grace period the previous user is locked with a password nobody knows.
import mysql from "mysql2/promise";
import { Invalid } from "../../../platform/errors.ts";
import { consumerUrl, newPassword, parseAdminUrl } from "./credentials.ts";
import type { CredentialData, Rotator } from "./types.ts";

/** Rewrites one SHOW GRANTS line for another grantee, dropping its authentication clause. */
export function grantFor(line: string, from: { user: string; host: string }, to: string): string | undefined {
  if (!/^GRANT /i.test(line)) return undefined; // SET DEFAULT ROLE and the like
  const forms = [
    `${mysql.escapeId(from.user)}@${mysql.escapeId(from.host)}`,
    `${mysql.escape(from.user)}@${mysql.escape(from.host)}`,
  ];
  for (const form of forms) {
    const at = line.lastIndexOf(` TO ${form}`);
    if (at < 0) continue;
    const option = /\bWITH (GRANT|ADMIN) OPTION\b/i.exec(line.slice(at))?.[0];
    return `${line.slice(0, at)} TO ${to}${option ? ` ${option}` : ""}`;
  }
  return undefined;
}

/** Rotates the password of `<user>_a`/`<user>_b`@host through an admin allowed to CREATE USER and GRANT. */
export function mysqlRotator(target: { adminUrl: string; user: string; host: string }): Rotator {
  const where = `rotation target ${target.user}@${target.host}`;
  const admin = parseAdminUrl(target.adminUrl, `${where}: adminUrl`, ["mysql:", "mariadb:"]);
  const users = [`${target.user}_a`, `${target.user}_b`];
  const account = (user: string) => mysql.format("?@?", [user, target.host]);

  async function withAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
    const conn = await mysql.createConnection({
      host: admin.hostname,
      port: Number(admin.port || 3306),
      user: decodeURIComponent(admin.username),
      password: decodeURIComponent(admin.password),
      connectTimeout: 5000,
    });
    conn.on("error", () => {}); // a lost connection surfaces as the failed query
    try {
      return await fn(conn);
    } finally {
      await conn.end().catch(() => {});
    }
  }
  const userExists = async (c: mysql.Connection, user: string) => {
    const [rows] = await c.query("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", [user, target.host]);
    return (rows as unknown[]).length > 0;
  };

  async function retire(previous: CredentialData, current: CredentialData | undefined): Promise<void> {
    const user = previous.username;
    if (!user || user === current?.username) return;
    // Only the users this rotator manages: never lock a login the secret merely names.
    if (user !== target.user && !users.includes(user)) {
      throw new Invalid(
        `refusing to retire ${user}: not ${target.user} or one of ${users.join(", ")}`,
        where,
      );
    }
    await withAdmin(async (c) => {
      if (!(await userExists(c, user))) return;
      await c.query(`ALTER USER ${account(user)} IDENTIFIED BY ? ACCOUNT LOCK`, [newPassword()]);
    });
  }

  return {
    kind: "mysql",
    async rotate(current) {
      const next = current?.username === users[0] ? users[1]! : users[0]!;
      const password = newPassword();
      await withAdmin(async (c) => {
        if (await userExists(c, next)) {
          await c.query(`ALTER USER ${account(next)} IDENTIFIED BY ? ACCOUNT UNLOCK`, [password]);
          return;
        }
        // The grants come from the user consumers use now, or from the configured user at first.
        const source =
          current?.username && users.includes(current.username) && (await userExists(c, current.username))
            ? current.username
            : target.user;
        if (!(await userExists(c, source))) {
          throw new Invalid(`user ${account(source)} does not exist on the MySQL server`, where);
        }
        const [rows] = await c.query(`SHOW GRANTS FOR ${account(source)}`);
        const grants = (rows as Array<Record<string, string>>)
          .map((r) =>
            grantFor(String(Object.values(r)[0]), { user: source, host: target.host }, account(next)),
          )
          .filter((g): g is string => g !== undefined);
        await c.query(`CREATE USER ${account(next)} IDENTIFIED BY ?`, [password]);
        try {
          for (const g of grants) await c.query(g);
        } catch (err) {
          await c.query(`DROP USER ${account(next)}`).catch(() => {});
          throw err;
        }
      });
      return {
        ...current,
        username: next,
        password,
        host: admin.hostname,
        port: admin.port || "3306",
        url: consumerUrl(admin, next, password),
      };
    },
    // The unused user keeps a password nobody holds, which is harmless; locking it could break a
    // credential another server stored for the same user in the meantime.
    async discard() {},
    retire,
  };
}

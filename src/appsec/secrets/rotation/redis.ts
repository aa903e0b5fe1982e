// Redis ACL users hold several passwords at once, so one user is enough: a rotation adds the new
// password beside the old one, and after the grace period the old one is removed. Passwords travel
// as SHA-256 hashes (`#…`/`!…`), so the server never sees them in clear in MONITOR or logs.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { NotFound } from "../../../platform/errors.ts";
import { consumerUrl, newPassword, parseAdminUrl } from "./credentials.ts";
import type { Rotator } from "./types.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Rotates an ACL user's password through an admin connection allowed to run ACL SETUSER. */
export function redisRotator(target: { adminUrl: string; user: string }): Rotator {
  const where = `rotation target ${target.user}`;
  const admin = parseAdminUrl(target.adminUrl, `${where}: adminUrl`, ["redis:", "rediss:"]);

  async function withAdmin<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis(target.adminUrl, {
      lazyConnect: true,
      connectTimeout: 5000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    r.on("error", () => {}); // the failed command reports it
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }
  // ACL GETUSER answers a flat list: [..., "passwords", [hash, ...], ...], or null for no such user.
  async function hashes(r: Redis): Promise<string[]> {
    const info = (await r.call("ACL", "GETUSER", target.user)) as unknown[] | null;
    if (!info) throw new NotFound(`${where}: ACL user ${target.user} does not exist on the Redis server`);
    const i = info.indexOf("passwords");
    return i >= 0 && Array.isArray(info[i + 1]) ? (info[i + 1] as string[]) : [];
  }
  async function remove(password: string | undefined): Promise<void> {
    if (!password) return;
    await withAdmin(async (r) => {
      const hash = sha256(password);
      if ((await hashes(r)).includes(hash)) await r.call("ACL", "SETUSER", target.user, `!${hash}`);
    });
  }

  return {
    kind: "redis",
    async rotate(current) {
      const password = newPassword();
      await withAdmin(async (r) => {
        await hashes(r);
        await r.call("ACL", "SETUSER", target.user, `#${sha256(password)}`);
      });
      return {
        ...current,
        username: target.user,
        password,
        host: admin.hostname,
        port: admin.port || "6379",
        url: consumerUrl(admin, target.user, password),
      };
    },
    discard: (next) => remove(next.password),
    async retire(previous, current) {
      if (previous.password === current?.password) return;
      await remove(previous.password);
    },
  };
}

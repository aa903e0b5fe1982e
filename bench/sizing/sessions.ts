// Memory per 10,000 sessions. (a) Redis: `used_memory` before and after creating the sessions
// through the real session store (session record, per-subject and per-sid index keys), beside the
// same number of plain SETs of values as long as the session records, with the same TTL.
// (b) The per-replica session cache: heap used after `get` of every session in a fresh store, in a
// child process run with --expose-gc (heap.ts), beside the same records kept as strings in a Map.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createSessionStore } from "../../src/identity/sessions/store.ts";
import { createRedisHotState } from "../../src/platform/hotstate/index.ts";
import { personSession } from "./identities.ts";

export interface SessionSizing {
  sessions: number;
  redis: {
    /** used_memory growth for the sessions through the store, bytes. */
    storeBytes: number;
    /** used_memory growth for plain SETs of the same record sizes, bytes. */
    anchorBytes: number;
    keys: number;
    avgRecordBytes: number;
    tokenBytes: { access: number; refresh: number; id: number };
  };
  rateLimits: {
    keys: number;
    /** used_memory growth for one GCRA key per client through hot state, bytes. */
    storeBytes: number;
    /** used_memory growth for plain SETs of the same keys and value sizes, bytes. */
    anchorBytes: number;
  };
  heap: HeapSizing;
}

export interface HeapSizing {
  /** Heap used growth after caching every session (get from a fresh store), bytes, after GC. */
  cacheBytes: number;
  /** Heap used growth for the same records as strings in a Map, bytes, after GC. */
  anchorBytes: number;
  cached: number;
}

// Rate-limit state: one GCRA key per client and limit (`rl:<route>:<limit>:<ip>`), which lives
// until the client's full allowance is back. 100 per hour keeps each key for 36 s, past the
// measurement.
async function rateLimitSizing(
  redis: Redis,
  hotState: ReturnType<typeof createRedisHotState>,
  prefix: string,
  n: number,
  progress: (msg: string) => void,
): Promise<SessionSizing["rateLimits"]> {
  progress(`rate limits: ${n.toLocaleString("en")} clients, one GCRA key each, beside plain SETs`);
  const key = (i: number) => `rl:shop:per-ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  await redis.flushall();
  const before = await usedMemory(redis);
  for (let i = 0; i < n; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, k) =>
        hotState.gcra(key(i + k), { limit: 100, periodMs: 3_600_000 }),
      ),
    );
  const storeBytes = (await usedMemory(redis)) - before;
  const keys = await redis.dbsize();
  const sample = (await redis.get(`${prefix}${key(0)}`)) ?? "";
  const ttl = Math.max(1000, await redis.pttl(`${prefix}${key(0)}`));
  await redis.flushall();
  const anchorBefore = await usedMemory(redis);
  for (let i = 0; i < n; i += 500) {
    const p = redis.pipeline();
    for (let k = i; k < Math.min(n, i + 500); k++) p.set(`${prefix}${key(k)}`, sample, "PX", ttl);
    await p.exec();
  }
  const anchorBytes = (await usedMemory(redis)) - anchorBefore;
  return { keys, storeBytes, anchorBytes };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  const m = /^used_memory:(\d+)/m.exec(info);
  if (!m) throw new Error("Redis INFO memory has no used_memory line");
  return Number(m[1]);
}

/** Measures against an empty Redis at `url` (everything in it is flushed, before and after). */
export async function sessionSizing(
  url: string,
  n: number,
  progress: (msg: string) => void,
): Promise<SessionSizing> {
  const redis = new Redis(url);
  const prefix = "rampart:";
  const hotState = createRedisHotState({ url, keyPrefix: prefix });
  const dir = mkdtempSync(join(tmpdir(), "rampart-bench-sizing-"));
  try {
    await redis.flushall();
    const before = await usedMemory(redis);
    progress(`sessions: creating ${n.toLocaleString("en")} through the session store in Redis`);
    const store = createSessionStore({ hotState, cacheSize: n });
    const ids: string[] = [];
    const first = personSession(0);
    for (let i = 0; i < n; i += 100) {
      const batch = Array.from({ length: Math.min(100, n - i) }, (_, k) => personSession(i + k));
      for (const s of await Promise.all(batch.map((b) => store.create(b)))) ids.push(s.id);
    }
    await store.close();
    const storeBytes = (await usedMemory(redis)) - before;
    const keys = await redis.dbsize();

    // Record sizes and TTLs as stored, for the anchor.
    const records: { len: number; ttl: number }[] = [];
    const sessionKeys = (await redis.keys(`${prefix}session:*`)).filter((k) =>
      /session:[0-9a-f]{64}$/.test(k),
    );
    for (let i = 0; i < sessionKeys.length; i += 500) {
      const chunk = sessionKeys.slice(i, i + 500);
      const p = redis.pipeline();
      for (const k of chunk) p.strlen(k).pttl(k);
      const out = (await p.exec()) ?? [];
      for (let j = 0; j < chunk.length; j++)
        records.push({ len: Number(out[2 * j]?.[1]), ttl: Number(out[2 * j + 1]?.[1]) });
    }
    const avgRecordBytes = records.reduce((a, r) => a + r.len, 0) / Math.max(1, records.length);

    progress(`sessions: heap of a replica's cache of ${n.toLocaleString("en")} (child process, --expose-gc)`);
    const idsFile = join(dir, "ids.json");
    writeFileSync(idsFile, JSON.stringify(ids));
    const heap = JSON.parse(
      execFileSync(
        process.execPath,
        ["--expose-gc", fileURLToPath(new URL("heap.ts", import.meta.url)), url, prefix, idsFile],
        { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
      ),
    ) as HeapSizing;

    progress(`sessions: anchor, ${records.length.toLocaleString("en")} plain SETs of the same sizes`);
    await redis.flushall();
    const anchorBefore = await usedMemory(redis);
    for (let i = 0; i < records.length; i += 500) {
      const p = redis.pipeline();
      for (const r of records.slice(i, i + 500))
        p.set(`${prefix}anchor:${randomBytes(32).toString("hex")}`, "x".repeat(r.len), "PX", r.ttl);
      await p.exec();
    }
    const anchorBytes = (await usedMemory(redis)) - anchorBefore;

    const rateLimits = await rateLimitSizing(redis, hotState, prefix, n, progress);
    return {
      rateLimits,
      sessions: n,
      redis: {
        storeBytes,
        anchorBytes,
        keys,
        avgRecordBytes,
        tokenBytes: {
          access: first.tokens.accessToken.length,
          refresh: first.tokens.refreshToken?.length ?? 0,
          id: first.tokens.idToken?.length ?? 0,
        },
      },
      heap,
    };
  } finally {
    await redis.flushall().catch(() => {});
    redis.disconnect();
    await hotState.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Child process of the session sizing (run with --expose-gc): heap used by one replica's session
// cache holding every session, beside the same records held as plain strings in a Map.
// Usage: node --expose-gc bench/sizing/heap.ts <redis url> <key prefix> <ids.json>; JSON on stdout.
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { createSessionStore } from "../../src/identity/sessions/store.ts";
import { createRedisHotState } from "../../src/platform/hotstate/index.ts";
import type { HeapSizing } from "./sessions.ts";

const [url, prefix, idsFile] = process.argv.slice(2) as [string, string, string];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("bench/sizing/heap.ts needs node --expose-gc");

function settledHeap(): number {
  for (let i = 0; i < 4; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

const ids = JSON.parse(readFileSync(idsFile, "utf8")) as string[];
const hotState = createRedisHotState({ url, keyPrefix: prefix });
// The cache re-reads after recheckMs; a long one keeps every entry for the measurement.
const store = createSessionStore({ hotState, cacheSize: ids.length, recheckMs: 3_600_000 });
// One lookup warms the code paths and the connection, so only the cache's growth is measured.
await store.get(ids[0]);
const before = settledHeap();
for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => store.get(id)));
const cacheBytes = settledHeap() - before;
const cached = ids.filter((id) => store.peek(id) !== undefined).length;
await store.close();
await hotState.close();

// Anchor: the same records fetched raw and kept as strings under their handles.
const redis = new Redis(url);
const anchorBefore = settledHeap();
const plain = new Map<string, string>();
{
  const keys = (await redis.keys(`${prefix}session:*`)).filter((k) => /session:[0-9a-f]{64}$/.test(k));
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const values = await redis.mget(...chunk);
    chunk.forEach((k, j) => plain.set(k.slice(-64), values[j] ?? ""));
  }
}
redis.disconnect();
const anchorBytes = settledHeap() - anchorBefore;
if (plain.size !== cached) throw new Error(`anchor holds ${plain.size} records, the cache ${cached}`);
const out: HeapSizing = { cacheBytes, anchorBytes, cached };
process.stdout.write(`${JSON.stringify(out)}\n`);

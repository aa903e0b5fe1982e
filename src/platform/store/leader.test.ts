// Leader election on a real PostgreSQL: one leader at a time, and a new one when it goes.
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterEach, beforeEach, expect, inject, test } from "vitest";
import { freshDatabase } from "../../../test/support/pg.ts";
import { electLeader, type Leadership } from "./leader.ts";

const CHECK_MS = 200;
let db: Awaited<ReturnType<typeof freshDatabase>>;
const elected: Leadership[] = [];
const elect = async (id: string, name = "scheduler") => {
  const l = await electLeader({ url: db.url, name, id, checkMs: CHECK_MS });
  elected.push(l);
  return l;
};
const until = async (what: string, check: () => boolean) => {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 20 * CHECK_MS) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
};

beforeEach(async () => {
  db = await freshDatabase(inject("pgUrl"));
});
afterEach(async () => {
  for (const l of elected.splice(0)) await l.close();
  await db.drop();
});

test("of three servers exactly one leads, and another takes over within a few checks when it stops", async () => {
  const servers = [await elect("a"), await elect("b"), await elect("c")];
  await until("one leads", () => servers.some((s) => s.leading));
  await sleep(3 * CHECK_MS);
  expect(servers.filter((s) => s.leading)).toHaveLength(1);
  const leader = servers.find((s) => s.leading) as Leadership;
  await leader.close();
  expect(leader.leading).toBe(false);
  const rest = servers.filter((s) => s !== leader);
  const ms = await until("another leads", () => rest.some((s) => s.leading));
  expect(ms).toBeLessThan(3 * CHECK_MS);
  await sleep(3 * CHECK_MS);
  expect(rest.filter((s) => s.leading)).toHaveLength(1);
});

test("a leader whose database session is killed steps down, and one server leads again", async () => {
  const a = await elect("a");
  const b = await elect("b");
  await until("one leads", () => a.leading || b.leading);
  const [leader, follower] = a.leading ? [a, b] : [b, a];
  const changes: boolean[] = [];
  leader.onChange((l) => changes.push(l));
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const killed = await admin.query(
    "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted",
  );
  await admin.end();
  expect(killed.rowCount).toBe(1);
  await until("the old leader steps down", () => !leader.leading);
  expect(changes[0]).toBe(false);
  await until("someone leads again", () => leader.leading || follower.leading);
  await sleep(3 * CHECK_MS);
  expect([leader, follower].filter((s) => s.leading)).toHaveLength(1);
});

test("different names elect independently; without PostgreSQL the one server leads", async () => {
  const a = await elect("a", "one");
  const b = await elect("b", "two");
  await until("both lead", () => a.leading && b.leading);
  const embedded = await electLeader({ name: "scheduler", id: "solo" });
  expect(embedded.leading).toBe(true);
});

test("a database that cannot be reached means not leading, and no crash", async () => {
  const l = await electLeader({
    url: "postgres://rampart@127.0.0.1:9/none",
    name: "s",
    id: "x",
    checkMs: CHECK_MS,
  });
  elected.push(l);
  await sleep(3 * CHECK_MS);
  expect(l.leading).toBe(false);
});

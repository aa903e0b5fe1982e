import { Redis } from "ioredis";
import pg from "pg";
import { expect, inject, test } from "vitest";

test("the suite runs against a real PostgreSQL and a real Redis", async () => {
  const c = new pg.Client({ connectionString: inject("pgUrl") });
  await c.connect();
  const { rows } = await c.query("select version()");
  await c.end();
  expect(rows[0].version).toMatch(/^PostgreSQL \d+/);
  const r = new Redis(inject("redisUrl"));
  expect(await r.info("server")).toMatch(/redis_version:\d+/);
  r.disconnect();
});

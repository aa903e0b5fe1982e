// Starts the real services the suite needs once per run, unless the environment provides them.
import type { TestProject } from "vitest/node";
import { startPostgres, startRedis } from "./support/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  let pgUrl = process.env.RAMPART_TEST_PG_URL;
  let redisUrl = process.env.RAMPART_TEST_REDIS_URL;
  if (!pgUrl) {
    const pg = await startPostgres();
    pgUrl = pg.url;
    stops.push(pg.stop);
  }
  if (!redisUrl) {
    const redis = await startRedis();
    redisUrl = redis.url;
    stops.push(redis.stop);
  }
  project.provide("pgUrl", pgUrl);
  project.provide("redisUrl", redisUrl);
  return async () => {
    for (const stop of stops) await stop();
  };
}

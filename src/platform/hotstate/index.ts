// Shared hot state: rate-limit counters, sessions, revocations, dynamic blocks. Memory when
// Rampart runs as one process, Redis when many gateway replicas must agree.
import type { Logger } from "pino";
import type { Clock } from "../clock.ts";
import type { HotState } from "./hot-state.ts";
import { createMemoryHotState } from "./memory.ts";
import { createRedisHotState } from "./redis.ts";

export type { GcraRate, GcraResult, HotState, MessageHandler, SetOptions } from "./hot-state.ts";
export { createMemoryHotState, type MemoryHotState, type MemoryHotStateOptions } from "./memory.ts";
export { createRedisHotState, type RedisHotStateOptions } from "./redis.ts";

export interface HotStateConfig {
  /** Use Redis at this URL; absent means in-process memory (single process only). */
  redisUrl?: string | undefined;
  keyPrefix?: string | undefined;
}

/** Redis when `redisUrl` is set, otherwise the in-process memory backend. */
export function createHotState(
  config: HotStateConfig,
  deps: { clock?: Clock; logger?: Logger } = {},
): HotState {
  if (config.redisUrl) {
    return createRedisHotState({ url: config.redisUrl, keyPrefix: config.keyPrefix, logger: deps.logger });
  }
  return createMemoryHotState({ clock: deps.clock, logger: deps.logger });
}

// Hot state in Redis, shared by every gateway replica and server. Designed to fail fast: while
// Redis is unreachable an operation rejects with `Unavailable` at once (once a connection attempt
// has failed) or within `connectWaitMs` / `commandTimeoutMs`, instead of queueing; commands are
// never replayed by the client after a reconnect. As with any remote store, a write that timed
// out on a live but stalled connection may still be applied when Redis catches up.
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { Invalid, RampartError, Unavailable } from "../errors.ts";
import {
  checkIncrement,
  checkRate,
  checkName,
  checkTtl,
  checkValue,
  type HotState,
  type MessageHandler,
  type SetOptions,
} from "./hot-state.ts";

export interface RedisHotStateOptions {
  /** `redis://` or `rediss://` URL; may carry credentials, so it is never logged or put in errors. */
  url: string;
  /** Prepended to every key and channel so deployments can share a Redis (default "rampart:"). */
  keyPrefix?: string;
  /** A command without a reply after this long rejects with `Unavailable` (default 500 ms). */
  commandTimeoutMs?: number;
  /** How long an operation waits for a connection that is being established (default 500 ms). */
  connectWaitMs?: number;
  /** Upper bound of the back-off between reconnect attempts (default 1000 ms). */
  maxReconnectDelayMs?: number;
  logger?: Logger;
}

interface Script {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash("sha1").update(lua).digest("hex") };
}

// Creating the key with its expiry and incrementing it happen in one script, so the expiry is
// set exactly once per window and a counter can never be left without one.
const incrScript = script(`redis.call('SET', KEYS[1], '0', 'PX', ARGV[2], 'NX')
return redis.call('INCRBY', KEYS[1], ARGV[1])`);

// GCRA as in gcraStep (hot-state.ts), on Redis's own clock so every replica agrees.
// ARGV: interval (ms, may be fractional), tolerance (ms), cost. Returns allowed, remaining,
// retryAfterMs, resetMs.
const gcraScript = script(`local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nxt = tat + interval * tonumber(ARGV[3])
local allowAt = nxt - tolerance
if now < allowAt then
  local remaining = math.floor((tolerance - (tat - now)) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, remaining, math.ceil(allowAt - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.max(1, math.ceil(nxt - now)))
return {1, math.floor((tolerance - (nxt - now)) / interval), 0, math.ceil(nxt - now)}`);

// ARGV: hasExpected ('0'|'1'), expected, hasNext ('0'|'1'), next, ttlMs ('' for none).
const casScript = script(`local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
elseif ARGV[5] == '' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
return 1`);

// Server replies that mean "try again later" rather than "your request is wrong".
const transientReply = /^(LOADING|BUSY|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|OOM|NOREPLICAS)\b/;

function translate(err: unknown): Error {
  if (err instanceof RampartError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === "ReplyError") {
    if (/not an integer|out of range|overflow/.test(message)) {
      return new Invalid("value is not an integer or out of range", "key");
    }
    // Any other server-side rejection is a bug in this module, not an outage: surface it as is.
    if (!transientReply.test(message)) return err;
  }
  return new Unavailable(`hot state unavailable (Redis): ${message}`, { cause: err });
}

/** One Redis connection plus the knowledge of whether it is currently worth waiting for. */
interface Link {
  readonly client: Redis;
  /** Resolves with the client once it is ready; rejects with `Unavailable` while Redis is unreachable. */
  ready(): Promise<Redis>;
  close(): Promise<void>;
}

interface ChannelState {
  readonly subs: Set<{ readonly handler: MessageHandler }>;
  /** Settles when Redis has confirmed (or refused) the SUBSCRIBE. */
  readonly active: Promise<void>;
}

/** Hot state in Redis; see {@link RedisHotStateOptions} for the failure behaviour. */
export function createRedisHotState(opts: RedisHotStateOptions): HotState {
  if (typeof opts.url !== "string" || !/^rediss?:\/\//.test(opts.url)) {
    throw new Invalid("must be a redis:// or rediss:// URL", "url");
  }
  const prefix = opts.keyPrefix ?? "rampart:";
  const commandTimeoutMs = opts.commandTimeoutMs ?? 500;
  const connectWaitMs = opts.connectWaitMs ?? 500;
  const maxReconnectDelayMs = opts.maxReconnectDelayMs ?? 1000;
  checkTtl(commandTimeoutMs, "commandTimeoutMs");
  checkTtl(connectWaitMs, "connectWaitMs");
  checkTtl(maxReconnectDelayMs, "maxReconnectDelayMs");
  const log = opts.logger;
  let closed = false;

  function connect(role: "commands" | "subscriber"): Link {
    const client = new Redis(opts.url, {
      connectionName: `rampart-hotstate-${role}`,
      // Fail instead of queueing while disconnected, fail in-flight commands when the
      // connection drops, and never resend them after a reconnect: their callers were already
      // told "unavailable" and may have acted on it.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: commandTimeoutMs,
      connectTimeout: Math.max(2000, commandTimeoutMs),
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times - 1, 10), maxReconnectDelayMs),
    });
    let down = false;
    let lastError = "not connected";
    let waiting: Promise<void> | undefined;

    client.on("error", (err: Error) => {
      lastError = err.message;
      if (!down && !closed) log?.warn({ err: err.message, role }, "hot state: Redis unreachable");
      down = true;
    });
    client.on("ready", () => {
      if (down) log?.info({ role }, "hot state: Redis reachable again");
      down = false;
    });

    function waitReady(): Promise<void> {
      waiting ??= new Promise<void>((resolve, reject) => {
        const finish = (err?: Error): void => {
          clearTimeout(timer);
          client.off("ready", onReady);
          client.off("error", onError);
          client.off("end", onEnd);
          waiting = undefined;
          if (err) reject(err);
          else resolve();
        };
        const onReady = (): void => finish();
        const onError = (err: Error): void =>
          finish(new Unavailable(`hot state unavailable (Redis): ${err.message}`));
        const onEnd = (): void => finish(new Unavailable("hot state is closed"));
        const timer = setTimeout(() => {
          down = true;
          finish(new Unavailable(`hot state unavailable (Redis): no connection within ${connectWaitMs} ms`));
        }, connectWaitMs);
        client.on("ready", onReady);
        client.on("error", onError);
        client.on("end", onEnd);
      });
      return waiting;
    }

    return {
      client,
      async ready() {
        if (closed) throw new Unavailable("hot state is closed");
        if (client.status === "ready") return client;
        if (down) throw new Unavailable(`hot state unavailable (Redis): ${lastError}`);
        await waitReady();
        return client;
      },
      async close() {
        try {
          if (client.status === "ready") await client.quit();
        } catch {
          // fall through to a hard disconnect
        }
        client.disconnect();
      },
    };
  }

  const main = connect("commands");
  let subscriber: Link | undefined;
  const channels = new Map<string, ChannelState>();

  function subscriberLink(): Link {
    if (subscriber) return subscriber;
    const link = connect("subscriber");
    link.client.on("message", (channel: string, message: string) => {
      const state = channels.get(channel);
      if (!state) return;
      const name = channel.slice(prefix.length);
      for (const sub of [...state.subs]) {
        if (!state.subs.has(sub)) continue;
        try {
          const r = sub.handler(message, name);
          if (r instanceof Promise) r.catch((err: unknown) => reportHandlerError(err, name));
        } catch (err) {
          reportHandlerError(err, name);
        }
      }
    });
    subscriber = link;
    return link;
  }

  function reportHandlerError(err: unknown, channel: string): void {
    log?.error({ err, channel }, "hot state subscriber failed");
  }

  async function run<T>(op: (c: Redis) => Promise<T>): Promise<T> {
    try {
      const c = main.client.status === "ready" && !closed ? main.client : await main.ready();
      return await op(c);
    } catch (err) {
      throw translate(err);
    }
  }

  async function evalScript(c: Redis, s: Script, key: string, args: (string | number)[]): Promise<unknown> {
    try {
      return await c.evalsha(s.sha, 1, key, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("NOSCRIPT")) return c.eval(s.lua, 1, key, ...args);
      throw err;
    }
  }

  return {
    async incr(key, by = 1, ttlMs) {
      checkName(key, "key");
      checkIncrement(by);
      checkTtl(ttlMs);
      return run(async (c) => Number(await evalScript(c, incrScript, prefix + key, [by, ttlMs])));
    },

    async gcra(key, rate) {
      checkName(key, "key");
      checkRate(rate);
      const args = [rate.periodMs / rate.limit, rate.periodMs, rate.cost ?? 1];
      const [allowed, remaining, retryAfterMs, resetMs] = (await run((c) =>
        evalScript(c, gcraScript, prefix + key, args),
      )) as number[];
      return {
        allowed: allowed === 1,
        remaining: Number(remaining),
        retryAfterMs: Number(retryAfterMs),
        resetMs: Number(resetMs),
      };
    },

    async get(key) {
      checkName(key, "key");
      return run((c) => c.get(prefix + key));
    },

    async set(key, value, setOpts: SetOptions = {}) {
      checkName(key, "key");
      checkValue(value, "value");
      if (setOpts.ttlMs !== undefined) checkTtl(setOpts.ttlMs);
      const args: (string | number)[] = [prefix + key, value];
      if (setOpts.ttlMs !== undefined) args.push("PX", setOpts.ttlMs);
      if (setOpts.ifAbsent) args.push("NX");
      return run(async (c) => (await c.call("set", ...args)) === "OK");
    },

    async del(key) {
      checkName(key, "key");
      return run(async (c) => (await c.del(prefix + key)) > 0);
    },

    async ttl(key) {
      checkName(key, "key");
      // PTTL: -2 absent, -1 no expiry.
      return run(async (c) => {
        const ms = await c.pttl(prefix + key);
        return ms < 0 ? null : ms;
      });
    },

    async compareAndSet(key, expected, next, ttlMs) {
      checkName(key, "key");
      if (expected !== null) checkValue(expected, "expected");
      if (next !== null) checkValue(next, "next");
      if (ttlMs !== undefined) checkTtl(ttlMs);
      const args = [
        expected === null ? "0" : "1",
        expected ?? "",
        next === null ? "0" : "1",
        next ?? "",
        ttlMs === undefined ? "" : String(ttlMs),
      ];
      return run(async (c) => (await evalScript(c, casScript, prefix + key, args)) === 1);
    },

    async publish(channel, message) {
      checkName(channel, "channel");
      checkValue(message, "message");
      await run((c) => c.publish(prefix + channel, message));
    },

    async subscribe(channel, handler) {
      checkName(channel, "channel");
      if (typeof handler !== "function") throw new Invalid("must be a function", "handler");
      if (closed) throw new Unavailable("hot state is closed");
      const full = prefix + channel;
      const link = subscriberLink();
      let state = channels.get(full);
      if (!state) {
        state = {
          subs: new Set(),
          active: link.ready().then(async (c) => {
            await c.subscribe(full);
          }),
        };
        channels.set(full, state);
      }
      const sub = { handler };
      const joined = state;
      joined.subs.add(sub);
      try {
        await joined.active;
      } catch (err) {
        joined.subs.delete(sub);
        if (channels.get(full) === joined) channels.delete(full);
        throw translate(err);
      }
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        joined.subs.delete(sub);
        if (joined.subs.size > 0 || channels.get(full) !== joined) return;
        channels.delete(full);
        // Delivery has already stopped locally; telling Redis is best effort (if the connection
        // is down, a resubscription after reconnect only brings messages nobody listens to).
        if (link.client.status !== "ready") return;
        try {
          await link.client.unsubscribe(full);
        } catch {
          // see above
        }
      };
    },

    async ping() {
      if (closed) return false;
      try {
        return await run(async (c) => (await c.ping()) === "PONG");
      } catch {
        return false;
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      channels.clear();
      await Promise.all([main.close(), subscriber?.close()]);
    },
  };
}

// A gateway's request pipeline: everything built from `gateway`, `routes` and the identity settings
// that a request goes through (admission with its compiled routes and upstream pools, bot
// protection, the WAF, country lookup, the identity step, the decision recorder). A config reload
// builds a new pipeline and swaps it in; the old one serves the requests it already admitted and
// is then retired. Parts whose settings did not change (the identity step with its session cache,
// the bot key, the rate-limit fallback) are shared by both and closed only when no pipeline uses
// them, so a reload does not sign every user out or forget who solved a challenge.
import type { Duplex } from "node:stream";
import type { GatewayConfig, RouteConfig } from "../../config/index.ts";
import {
  createGatewayAccess,
  type GatewayAccess,
  type IdentityConfig,
  identityConfigSchema,
  type RbacConfig,
} from "../../identity/index.ts";
import type { Clock } from "../../platform/clock.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createBuiltInWaf, type Waf } from "../waf/index.ts";
import { type Admission, createAdmission, type RouteControls } from "./admission.ts";
import type { BlockWatch } from "./blocks.ts";
import { type BotProtection, createBotProtection } from "./bots.ts";
import { createDecisionRecorder, type DecisionRecorder, type GatewayMetrics } from "./decisions.ts";
import { createForwarder } from "./forward.ts";
import { type CountryLookup, openCountryLookup } from "./geo.ts";
import type { LockdownWatch } from "./lockdown.ts";
import { createRateLimiting, type RateLimiting } from "./rate-limit.ts";

export interface PipelineConfig {
  gateway: GatewayConfig;
  routes: readonly RouteConfig[];
  identity?: { identity: IdentityConfig; rbac: Partial<RbacConfig> } | undefined;
}

/** What lives for the whole gateway and every pipeline uses. */
export interface PipelineContext {
  hot: HotState;
  emit?: ((e: SecurityEvent) => void) | undefined;
  metrics?: GatewayMetrics | undefined;
  source?: string | undefined;
  clock: Clock;
  logger?: Logger | undefined;
  blocks: BlockWatch;
  lockdowns: LockdownWatch;
}

export interface Pipeline {
  readonly config: PipelineConfig;
  admit: Admission["admit"];
  routes: readonly RouteControls[];
  forward: ReturnType<typeof createForwarder>;
  waf: Waf | undefined;
  decisions: DecisionRecorder;
  countries: CountryLookup | undefined;
  /** Counts a request in; call the returned function once when it is over. */
  enter(): () => void;
  /** An open WebSocket admitted here: closed if this pipeline's identity step closes. */
  hold(socket: Duplex): void;
  /** Waits for the requests in flight, then releases what no newer pipeline shares. Once. */
  retire(): Promise<void>;
}

/** A part several pipelines may share, closed when the last one retires. */
interface Shared<T> {
  key: string;
  value: T;
  users: number;
  close: () => unknown;
}

type Part = "limiting" | "countries" | "access" | "bots" | "waf" | "decisions";

interface Parts {
  limiting: Shared<RateLimiting>;
  countries: Shared<CountryLookup | undefined>;
  access: Shared<GatewayAccess | undefined>;
  bots: Shared<BotProtection | undefined>;
  waf: Shared<Waf | undefined>;
  decisions: Shared<DecisionRecorder>;
}

const partsOf = new WeakMap<Pipeline, Parts>();

/**
 * Builds a pipeline for `config`, taking over from `previous` every shared part whose settings are
 * the same. Throws (and holds nothing) when a part cannot be built, e.g. an unreadable file.
 */
export async function buildPipeline(
  config: PipelineConfig,
  ctx: PipelineContext,
  previous?: Pipeline,
): Promise<Pipeline> {
  const g = config.gateway;
  const { routes } = config;
  const before = previous ? partsOf.get(previous) : undefined;
  const taken: Shared<unknown>[] = [];
  async function part<T>(
    name: Part,
    key: string,
    create: () => T | Promise<T>,
    close: (v: T) => unknown,
  ): Promise<Shared<T>> {
    const old = before?.[name] as Shared<T> | undefined;
    let s: Shared<T>;
    if (old && old.key === key) s = old;
    else {
      const value = await create();
      s = { key, value, users: 0, close: () => close(value) };
    }
    s.users++;
    taken.push(s as Shared<unknown>);
    return s;
  }

  const needsCountries = routes.some((r) => r.geo || r.policy);
  const id = config.identity;
  const needsAccess =
    routes.some((r) => r.auth || r.policy) || (id?.identity.serviceAccounts.length ?? 0) > 0;
  const needsBots = routes.some((r) => r.bots);
  const needsWaf = routes.some((r) => r.waf && r.waf.mode !== "off");
  let parts: Parts;
  let admission: Admission;
  try {
    let warnedUnavailable = 0;
    // Rebuilt when any limit changes: its cache of keys over their limit was computed under the old ones.
    const limiting = await part(
      "limiting",
      JSON.stringify([g.rateLimitWhenUnavailable, routes.map((r) => r.rateLimits)]),
      () =>
        createRateLimiting({
          hot: ctx.hot,
          whenUnavailable: g.rateLimitWhenUnavailable,
          clock: ctx.clock,
          onUnavailable: (err) => {
            // Once a minute at most: during an outage every request would say it again.
            const t = ctx.clock.now().getTime();
            if (t - warnedUnavailable < 60_000) return;
            warnedUnavailable = t;
            ctx.logger?.warn(
              { err: (err as Error).message, mode: g.rateLimitWhenUnavailable },
              "rate limiting: hot state unavailable",
            );
          },
        }),
      (l) => l.close(),
    );
    const countries = await part(
      "countries",
      needsCountries ? `db:${g.geo.database ?? ""}` : "none",
      () => (needsCountries ? openCountryLookup(g.geo.database) : undefined),
      () => {},
    );
    const access = await part(
      "access",
      needsAccess ? JSON.stringify(id ?? null) : "none",
      () =>
        needsAccess
          ? createGatewayAccess({
              identity: id?.identity ?? identityConfigSchema.parse({}),
              rbac: id?.rbac ?? {},
              hotState: ctx.hot,
              clock: ctx.clock,
              emit: ctx.emit ?? (() => {}),
              logger: ctx.logger,
            })
          : undefined,
      (a) => a?.close(),
    );
    const bots = await part(
      "bots",
      needsBots ? JSON.stringify(g.bots) : "none",
      () => (needsBots ? createBotProtection({ ...g.bots, clock: ctx.clock }) : undefined),
      () => {},
    );
    const waf = await part(
      "waf",
      needsWaf ? "builtin" : "none",
      () => (needsWaf ? createBuiltInWaf() : undefined),
      () => {},
    );
    const decisions = await part(
      "decisions",
      String(g.eventIntervalSeconds),
      () =>
        createDecisionRecorder({
          emit: ctx.emit,
          metrics: ctx.metrics,
          clock: ctx.clock,
          source: ctx.source,
          intervalMs: g.eventIntervalSeconds * 1000,
        }),
      (d) => d.close(),
    );
    parts = { limiting, countries, access, bots, waf, decisions };
    // Opens an undici pool per upstream and reads upstream TLS files: the step most likely to fail.
    admission = createAdmission({
      gateway: g,
      routes,
      limiting: limiting.value,
      countries: countries.value,
      blocks: ctx.blocks,
      lockdowns: ctx.lockdowns,
      decisions: decisions.value,
      clock: ctx.clock,
      bots: bots.value,
      access: access.value,
    });
  } catch (err) {
    await release(taken);
    throw err;
  }

  let inFlight = 0;
  let drained: (() => void) | undefined;
  const sockets = new Set<Duplex>();
  let retiring: Promise<void> | undefined;
  const pipeline: Pipeline = {
    config,
    admit: admission.admit,
    routes: admission.routes,
    forward: createForwarder(g, parts.decisions.value, parts.waf.value),
    waf: parts.waf.value,
    decisions: parts.decisions.value,
    countries: parts.countries.value,
    enter() {
      inFlight++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight--;
        if (inFlight === 0) drained?.();
      };
    },
    hold(socket) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    },
    retire() {
      retiring ??= (async () => {
        if (inFlight > 0) await new Promise<void>((r) => (drained = r));
        // undici's close waits for requests still queued on a pool, then ends its connections.
        await Promise.all(admission.routes.map((c) => c.upstreams.close()));
        // A WebSocket is re-checked by the identity step that admitted it: once that closes, the
        // client reconnects and is admitted under the new settings.
        if (parts.access.users === 1 && parts.access.value) for (const s of sockets) s.destroy();
        await release(taken);
      })();
      return retiring;
    },
  };
  partsOf.set(pipeline, parts);
  return pipeline;
}

async function release(taken: readonly Shared<unknown>[]): Promise<void> {
  for (const s of taken) {
    s.users--;
    if (s.users === 0) await s.close();
  }
}

/** Settings the listeners were built with: a reload cannot change them. */
export const LISTENER_KEYS = [
  "host",
  "port",
  "tls",
  "maxHeaderBytes",
  "clientHeaderTimeoutMs",
  "clientRequestTimeoutMs",
  "clientKeepAliveTimeoutMs",
  "maxConnections",
] as const satisfies readonly (keyof GatewayConfig)[];

/** `gateway.<key>` for each listener setting that differs between `a` and `b`. */
export function listenerChanges(a: GatewayConfig, b: GatewayConfig): string[] {
  return LISTENER_KEYS.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map(
    (k) => `gateway.${k}`,
  );
}

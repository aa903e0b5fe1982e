// The control-plane API for dynamic blocks and route lockdowns: operators (and incident playbooks)
// block an address, range or country for a while, or lock a route down to allowed addresses and
// signed-in people; every gateway replica sharing the hot state enforces it within seconds. Each
// change is an audited event.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { RampartConfig } from "../config/index.ts";
import { routeId } from "../config/index.ts";
import { createBlockList, type IpBlock, isCountryTarget } from "../network/gateway/blocks.ts";
import { createLockdowns, type RouteLockdown } from "../network/gateway/lockdown.ts";
import { NotFound } from "../platform/errors.ts";
import { type EventRef, newEvent } from "../platform/events/index.ts";
import type { RouteKit } from "./identity-routes.ts";
import type { Runtime } from "./runtime.ts";

const newBlockSchema = z.strictObject({
  target: z.string().min(1).max(64),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(365 * 86_400),
  reason: z.string().min(1).max(500),
});

const newLockdownSchema = z.strictObject({
  route: z.string().min(1).max(512),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400),
  reason: z.string().min(1).max(500),
  /** Addresses or ranges admitted; absent: the route's and gateway's `ipRules.allow`. */
  allow: z.array(z.string().min(1).max(64)).max(100).optional(),
});

/** The event target a block names: `ip:203.0.113.7` or `country:RU`. */
const blockRef = (target: string): EventRef =>
  isCountryTarget(target)
    ? { kind: "country", id: target.slice("country:".length) }
    : { kind: "ip", id: target };

export function registerBlockRoutes(
  app: FastifyInstance,
  /** `config` names the routes a lockdown may apply to (read per request: reloads count); without it, none. */
  rt: Pick<Runtime, "hot" | "clock" | "bus"> & { config?: Pick<RampartConfig, "routes"> },
  o: RouteKit,
): void {
  const blocks = createBlockList(rt.hot, { clock: rt.clock });
  const lockdowns = createLockdowns(rt.hot, { clock: rt.clock });
  const schema = { tags: ["gateway"], security: [{ bearer: [] }] };
  const audit = async (type: string, by: EventRef, b: IpBlock) => {
    await rt.bus.publish([
      newEvent(
        {
          type,
          severity: "medium",
          actor: by,
          target: blockRef(b.target),
          data: { reason: b.reason, expiresAt: b.expiresAt },
        },
        rt.clock.now(),
      ),
    ]);
  };
  const auditLockdown = async (type: string, by: EventRef, l: RouteLockdown) => {
    await rt.bus.publish([
      newEvent(
        {
          type,
          severity: "high",
          actor: by,
          target: { kind: "route", id: l.route },
          data: { reason: l.reason, expiresAt: l.expiresAt, allow: l.allow },
        },
        rt.clock.now(),
      ),
    ]);
  };
  const secondsLeft = (expiresAt: string) =>
    Math.ceil((Date.parse(expiresAt) - rt.clock.now().getTime()) / 1000);

  app.get(
    "/api/v1/gateway/blocks",
    {
      schema: {
        ...schema,
        description: "Dynamic blocks (addresses, ranges, countries) in force, with their expiry.",
      },
    },
    async (req) => {
      await o.authorize(req, "gateway:blocks:read");
      return { blocks: await blocks.list() };
    },
  );

  app.post(
    "/api/v1/gateway/blocks",
    {
      schema: {
        ...schema,
        description:
          "Block an address, a CIDR range or a country (country:RU) at every gateway for ttlSeconds (setting it again replaces it).",
      },
    },
    async (req, reply) => {
      const { actor } = await o.authorize(req, "gateway:blocks:write");
      const { target, ttlSeconds, reason } = o.parseBody(newBlockSchema, req.body);
      const block = await blocks.add({ target, ttlSeconds, reason, by: actor.id });
      // No change without its audit entry: a block that cannot be recorded is taken back.
      await audit("gateway.block_added", actor, block).catch(async (err: unknown) => {
        await blocks.remove(block.target).catch(() => {});
        throw err;
      });
      return reply.status(201).send(block);
    },
  );

  app.delete(
    "/api/v1/gateway/blocks/:target",
    {
      schema: {
        ...schema,
        description: "Lift a block before it expires (a CIDR range's slash encoded as %2F).",
      },
    },
    async (req) => {
      const { actor } = await o.authorize(req, "gateway:blocks:write");
      const block = await blocks.remove((req.params as { target: string }).target);
      await audit("gateway.block_removed", actor, block).catch(async (err: unknown) => {
        const left = secondsLeft(block.expiresAt);
        if (left > 0) await blocks.add({ ...block, ttlSeconds: left }).catch(() => {});
        throw err;
      });
      return block;
    },
  );

  app.get(
    "/api/v1/gateway/lockdowns",
    { schema: { ...schema, description: "Routes in lockdown, with their expiry and allowed addresses." } },
    async (req) => {
      await o.authorize(req, "gateway:blocks:read");
      return { lockdowns: await lockdowns.list() };
    },
  );

  app.post(
    "/api/v1/gateway/lockdowns",
    {
      schema: {
        ...schema,
        description:
          "Lock a route down for ttlSeconds: only allowed addresses (allow, else the configured ipRules.allow) and, on routes with auth, people signed in through SSO get in.",
      },
    },
    async (req, reply) => {
      const { actor } = await o.authorize(req, "gateway:blocks:write");
      const body = o.parseBody(newLockdownSchema, req.body);
      // Only a route in the config in force: a typo must not look like a lockdown that holds.
      if (!(rt.config?.routes ?? []).some((r) => routeId(r) === body.route))
        throw new NotFound(`no route '${body.route}' in the config in force`);
      const lockdown = await lockdowns.add({ ...body, by: actor.id });
      await auditLockdown("gateway.lockdown_added", actor, lockdown).catch(async (err: unknown) => {
        await lockdowns.remove(lockdown.route).catch(() => {});
        throw err;
      });
      return reply.status(201).send(lockdown);
    },
  );

  app.delete(
    "/api/v1/gateway/lockdowns/:route",
    {
      schema: {
        ...schema,
        description: "Lift a route's lockdown before it expires (slashes in the route id encoded as %2F).",
      },
    },
    async (req) => {
      const { actor } = await o.authorize(req, "gateway:blocks:write");
      const lockdown = await lockdowns.remove((req.params as { route: string }).route);
      await auditLockdown("gateway.lockdown_removed", actor, lockdown).catch(async (err: unknown) => {
        const left = secondsLeft(lockdown.expiresAt);
        if (left > 0) await lockdowns.add({ ...lockdown, ttlSeconds: left }).catch(() => {});
        throw err;
      });
      return lockdown;
    },
  );
}

// The control-plane API for dynamic IP blocks: operators (and, later, incident playbooks) block an
// address or range for a while; every gateway replica sharing the hot state enforces it within
// seconds. Each change is an audited event.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { createBlockList, type IpBlock } from "../network/gateway/blocks.ts";
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

export function registerBlockRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, "hot" | "clock" | "bus">,
  o: RouteKit,
): void {
  const blocks = createBlockList(rt.hot, { clock: rt.clock });
  const schema = { tags: ["gateway"], security: [{ bearer: [] }] };
  const audit = async (type: string, by: EventRef, b: IpBlock) => {
    await rt.bus.publish([
      newEvent(
        {
          type,
          severity: "medium",
          actor: by,
          target: { kind: "ip", id: b.target },
          data: { reason: b.reason, expiresAt: b.expiresAt },
        },
        rt.clock.now(),
      ),
    ]);
  };

  app.get(
    "/api/v1/gateway/blocks",
    { schema: { ...schema, description: "Dynamic IP blocks in force, with their expiry." } },
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
          "Block an address or CIDR range at every gateway for ttlSeconds (setting it again replaces it).",
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
        const left = Math.ceil((Date.parse(block.expiresAt) - rt.clock.now().getTime()) / 1000);
        if (left > 0) await blocks.add({ ...block, ttlSeconds: left }).catch(() => {});
        throw err;
      });
      return block;
    },
  );
}

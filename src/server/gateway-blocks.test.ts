// The blocks API keeps its promise that every change is audited: when the audit event cannot be
// published, the change is taken back and the caller gets an error.
import Fastify from "fastify";
import { expect, test } from "vitest";
import { manualClock } from "../platform/clock.ts";
import type { EventBus } from "../platform/events/index.ts";
import { createMemoryHotState } from "../platform/hotstate/index.ts";
import { createBlockList } from "../network/gateway/blocks.ts";
import { registerBlockRoutes } from "./gateway-blocks.ts";

test("a block whose audit event cannot be written is not left in force, nor is its removal", async () => {
  const clock = manualClock("2026-11-22T10:00:00Z");
  const hot = createMemoryHotState({ clock });
  let journalUp = true;
  const bus = {
    publish: async () => {
      if (!journalUp) throw new Error("journal unavailable");
      return { duplicate: false };
    },
  } as unknown as EventBus;
  const app = Fastify();
  const ops = {
    identity: {
      kind: "user",
      subject: "corp:ops",
      groups: [],
      roles: ["operator"],
      claims: {},
      credential: "session",
    },
    actor: { kind: "user", id: "corp:ops" },
  } as const;
  registerBlockRoutes(
    app,
    { hot, clock, bus },
    { authorize: async () => ops, parseBody: (schema, b) => schema.parse(b) },
  );
  const list = createBlockList(hot, { clock });
  const add = (target: string) =>
    app.inject({
      method: "POST",
      url: "/api/v1/gateway/blocks",
      payload: { target, ttlSeconds: 600, reason: "x" },
    });

  expect((await add("198.51.100.1")).statusCode).toBe(201);
  journalUp = false;
  expect((await add("198.51.100.2")).statusCode).toBe(500);
  expect((await list.list()).map((b) => b.target)).toEqual(["198.51.100.1"]);
  const lifted = await app.inject({ method: "DELETE", url: "/api/v1/gateway/blocks/198.51.100.1" });
  expect(lifted.statusCode).toBe(500);
  expect((await list.list()).map((b) => b.target)).toEqual(["198.51.100.1"]);
  await app.close();
});

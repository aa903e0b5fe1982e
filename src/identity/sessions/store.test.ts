import { createHash, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/types.ts";
import { createMemoryHotState, createRedisHotState } from "../../platform/hotstate/index.ts";
import type { Identity } from "../types.ts";
import { createSessionStore, type NewSession } from "./store.ts";

function identity(sub: string): Identity {
  return {
    kind: "user",
    subject: `corp:${sub}`,
    provider: "corp",
    email: `${sub}@example.com`,
    emailVerified: true,
    groups: ["eng"],
    roles: [],
    claims: {},
    credential: "session",
  };
}

const input = (sub: string, sid?: string): NewSession => ({
  identity: identity(sub),
  provider: "corp",
  tokens: { accessToken: `at-${sub}`, refreshToken: `rt-${sub}` },
  sid,
});

const MIN = 60_000;

describe("session store", () => {
  it("finds a session by its cookie id and by nothing else", async () => {
    const hotState = createMemoryHotState();
    const store = createSessionStore({ hotState });
    const { id, session } = await store.create(input("alice"));
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await store.get(id))?.identity.subject).toBe("corp:alice");
    // The HotState key is the hash of the id: the handle, not the cookie, is what a dump shows.
    expect(session.handle).toBe(createHash("sha256").update(id).digest("hex"));
    expect(await store.get(session.handle)).toBeNull();
  });

  it("answers without I/O only for a session it has just seen alive", async () => {
    const clock = manualClock(new Date("2026-11-23T10:00:00Z"));
    const store = createSessionStore({ hotState: createMemoryHotState(), clock, recheckMs: 1000 });
    const { id, session } = await store.create(input("alice"));
    expect(store.peek(id)).toBeUndefined(); // never looked up here: ask get
    await store.get(id);
    expect(store.peek(id)?.handle).toBe(session.handle);
    expect(store.peek(`${id.slice(0, 42)}x`)).toBeUndefined();
    clock.advance(1000); // past the recheck interval: hot state must be asked again
    expect(store.peek(id)).toBeUndefined();
    await store.get(id);
    await store.destroy(session.handle);
    expect(store.peek(id)).toBeUndefined();
    expect(await store.get(id)).toBeNull();
  });

  it("refuses forged and tampered cookies", async () => {
    const store = createSessionStore({ hotState: createMemoryHotState() });
    const { id } = await store.create(input("alice"));
    const flipped = (id[0] === "A" ? "B" : "A") + id.slice(1);
    for (const bad of [
      flipped,
      `${id}x`,
      id.slice(1),
      "",
      "a".repeat(43),
      `${id.slice(0, 42)}=`,
      undefined,
    ]) {
      expect(await store.get(bad)).toBeNull();
    }
  });

  it("ends a session left idle past the idle timeout, and keeps one in use", async () => {
    const clock = manualClock();
    const store = createSessionStore({ hotState: createMemoryHotState({ clock }), clock });
    const busy = await store.create(input("alice"));
    const idle = await store.create(input("bob"));
    for (let i = 0; i < 4; i++) {
      clock.advance(20 * MIN);
      expect(await store.get(busy.id)).not.toBeNull();
    }
    expect(await store.get(idle.id)).toBeNull();
  });

  it("ends a session at its absolute timeout however busy it is", async () => {
    const clock = manualClock();
    const store = createSessionStore({ hotState: createMemoryHotState({ clock }), clock });
    const { id } = await store.create(input("alice"));
    for (let t = 0; t < 12 * 60 - 10; t += 10) {
      clock.advance(10 * MIN);
      expect(await store.get(id)).not.toBeNull();
    }
    clock.advance(10 * MIN);
    expect(await store.get(id)).toBeNull();
  });

  it("writes last-seen at most once per touch interval", async () => {
    const clock = manualClock();
    const hotState = createMemoryHotState({ clock });
    const store = createSessionStore({ hotState, clock });
    const { id, session } = await store.create(input("alice"));
    const stored = async () =>
      JSON.parse((await hotState.get(`session:${session.handle}`)) ?? "{}").lastSeenAt;
    clock.advance(30_000);
    await store.get(id);
    expect(await stored()).toBe(session.lastSeenAt);
    clock.advance(31_000);
    await store.get(id);
    expect(await stored()).toBe(session.lastSeenAt + 61_000);
  });

  it("keeps a session for every one of a browser's parallel requests at the touch moment", async () => {
    const clock = manualClock();
    const hotState = createMemoryHotState({ clock });
    let writes = 0;
    const compareAndSet = hotState.compareAndSet.bind(hotState);
    hotState.compareAndSet = (...args) => {
      writes++;
      return compareAndSet(...args);
    };
    const store = createSessionStore({ hotState, clock });
    const { id } = await store.create(input("alice"));
    writes = 0;
    clock.advance(61_000);
    // Fifty requests see a stale last-seen at once: one write, which the others wait for, rather
    // than fifty racing compare-and-sets that some would lose (the session with them).
    const seen = await Promise.all(Array.from({ length: 50 }, () => store.get(id)));
    expect(seen.filter((s) => s?.identity.subject === "corp:alice")).toHaveLength(50);
    expect(writes).toBe(1);
  });

  it("revokes every session of a subject and emits one event", async () => {
    const events: SecurityEvent[] = [];
    const store = createSessionStore({ hotState: createMemoryHotState(), emit: (e) => events.push(e) });
    const a1 = await store.create(input("alice"));
    const a2 = await store.create(input("alice"));
    const b = await store.create(input("bob"));
    expect(await store.revokeSubject("corp:alice")).toBe(2);
    expect(await store.get(a1.id)).toBeNull();
    expect(await store.get(a2.id)).toBeNull();
    expect(await store.get(b.id)).not.toBeNull();
    expect(events.map((e) => [e.type, e.actor.id, e.data.sessions])).toEqual([
      ["identity.session_revoked", "corp:alice", 2],
    ]);
    expect(JSON.stringify(events)).not.toContain(a1.id);
  });

  it("maps the provider's sid to its sessions for back-channel logout", async () => {
    const store = createSessionStore({ hotState: createMemoryHotState() });
    const s1 = await store.create(input("alice", "sid-1"));
    const s2 = await store.create(input("alice", "sid-2"));
    expect(await store.destroyBySid("other-provider", "sid-1")).toBe(0);
    expect(await store.destroyBySid("corp", "sid-1")).toBe(1);
    expect(await store.get(s1.id)).toBeNull();
    expect(await store.get(s2.id)).not.toBeNull();
  });

  it("replace never resurrects a destroyed session", async () => {
    const store = createSessionStore({ hotState: createMemoryHotState() });
    const { id, session } = await store.create(input("alice"));
    expect(await store.destroy(session.handle)).toBe(true);
    expect(await store.replace(session.handle, (s) => ({ ...s, tokens: { accessToken: "new" } }))).toBeNull();
    expect(await store.get(id)).toBeNull();
    expect(await store.destroy(session.handle)).toBe(false);
  });

  describe("two replicas over Redis", () => {
    const url = inject("redisUrl");
    const keyPrefix = `test:sessions:${randomUUID()}:`;
    const raw = new Redis(url);
    afterAll(async () => {
      const keys = await raw.keys(`${keyPrefix}*`);
      if (keys.length) await raw.del(...keys);
      await raw.quit();
    });

    async function replicas(recheckMs: number) {
      const hs = [createRedisHotState({ url, keyPrefix }), createRedisHotState({ url, keyPrefix })];
      const stores = hs.map((hotState) => createSessionStore({ hotState, recheckMs }));
      await Promise.all(stores.map((s) => s.start()));
      return {
        a: stores[0]!,
        b: stores[1]!,
        close: async () => {
          await Promise.all(stores.map((s) => s.close()));
          await Promise.all(hs.map((h) => h.close()));
        },
      };
    }

    it("a revocation on one replica is seen by the other within 1 s (pub/sub)", async () => {
      // A long recheck interval, so only the pub/sub message can explain a fast drop.
      const { a, b, close } = await replicas(60_000);
      const { id } = await a.create(input(`carol-${randomUUID()}`));
      const subject = (await b.get(id))!.identity.subject;
      expect(await b.get(id)).not.toBeNull(); // now cached on b
      const t0 = Date.now();
      await a.revokeSubject(subject);
      while ((await b.get(id)) !== null) {
        expect(Date.now() - t0).toBeLessThan(1000);
        await sleep(10);
      }
      await close();
    });

    it("without the pub/sub message a replica still notices within the recheck interval", async () => {
      const { a, b, close } = await replicas(1000);
      await b.close(); // b hears nothing from now on, but keeps its cache
      const { id, session } = await a.create(input(`dave-${randomUUID()}`));
      expect(await b.get(id)).not.toBeNull();
      await raw.del(`${keyPrefix}session:${session.handle}`);
      expect(await b.get(id)).not.toBeNull(); // still cached
      await sleep(1050);
      expect(await b.get(id)).toBeNull();
      await close();
    });
  });
});

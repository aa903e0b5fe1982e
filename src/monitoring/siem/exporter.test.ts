import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { newEvent } from "../../platform/events/index.ts";
import { createSiemExport, typeMatcher } from "./exporter.ts";
import { siemConfigSchema } from "./schema.ts";

const logger = pino({ level: "silent" });

describe("type filters", () => {
  it("match exact types, prefixes with '*', and everything without patterns", () => {
    const m = typeMatcher(["gateway.*", "secrets.read"]);
    expect(["gateway.waf_blocked", "gateway.route.lockdown", "secrets.read"].every(m)).toBe(true);
    expect(["gatewayx.a", "secrets.read_denied", "secrets.rotated", "identity.login"].some(m)).toBe(false);
    expect(typeMatcher(undefined)("anything.at_all")).toBe(true);
    expect(typeMatcher(["*"])("a.b")).toBe(true);
    // '.' in a pattern is literal.
    expect(typeMatcher(["a.b"])("aXb")).toBe(false);
  });
});

describe("createSiemExport", () => {
  it("never throws into the bus, even when the config cannot be read", async () => {
    const siem = createSiemExport({
      config: () => {
        throw new Error("config store down");
      },
      logger,
    });
    expect(() => siem.handle([newEvent({ type: "a.b", actor: { kind: "user", id: "u" } })])).not.toThrow();
    expect(siem.stats()).toEqual([]);
    await siem.close();
  });

  it("ignores events after close and closes idempotently", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rampart-siem-unit-"));
    try {
      const path = join(dir, "e.jsonl");
      const config = siemConfigSchema.parse({
        exporters: [{ name: "f", type: "jsonl", transport: "file", path }],
      });
      const siem = createSiemExport({ config: () => config, logger });
      siem.handle([newEvent({ type: "a.b", actor: { kind: "user", id: "u" }, data: { n: 1 } })]);
      await siem.close();
      siem.handle([newEvent({ type: "a.b", actor: { kind: "user", id: "u" }, data: { n: 2 } })]);
      await siem.close();
      const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
      expect(lines.map((l) => (JSON.parse(l) as { data: { n: number } }).data.n)).toEqual([1]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

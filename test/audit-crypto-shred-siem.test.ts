// Personal details never leave Rampart through the SIEM export: every format drops them whole,
// as it drops `sensitive`, and a real file export holds none of them.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import {
  createSiemExport,
  eventJson,
  exportedEvent,
  formatSyslog,
  jsonLine,
  logRecordOf,
  siemConfigSchema,
} from "../src/monitoring/siem/index.ts";
import { newEvent } from "../src/platform/events/index.ts";

const PERSONAL = { email: "dana@example.com", name: "Dana Scully", phone: "+1 202 555 0147" };
const event = (i: number) =>
  newEvent({
    type: "identity.profile_changed",
    actor: { kind: "user", id: "admin@example.com" },
    target: { kind: "user", id: "u-1042" },
    data: { seq: i },
    personal: PERSONAL,
  });
const leaks = (text: string) => Object.values(PERSONAL).filter((v) => text.includes(v));

describe("SIEM export drops personal details", () => {
  it("leaves them out of the exported event, JSON lines, syslog and OTLP records", () => {
    const e = event(1);
    const out = exportedEvent(e);
    expect(out).not.toHaveProperty("personal");
    expect(out).toMatchObject({ id: e.id, type: e.type, data: { seq: 1 } });
    expect(JSON.parse(eventJson(e))).not.toHaveProperty("personal");
    expect(leaks(eventJson(e))).toEqual([]);
    expect(leaks(jsonLine(e))).toEqual([]);
    expect(
      leaks(formatSyslog(e, { facility: 10, hostname: "h", enterpriseId: 32473 }).toString("utf8")),
    ).toEqual([]);
    expect(leaks(JSON.stringify(logRecordOf(e)))).toEqual([]);
    // The event itself (for detect rules in memory) still carries them.
    expect(e.personal).toEqual(PERSONAL);
  });

  it("a file export of many events holds none of them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rampart-shred-siem-"));
    const path = join(dir, "events.jsonl");
    const siem = createSiemExport({
      config: () =>
        siemConfigSchema.parse({ exporters: [{ name: "f", type: "jsonl", transport: "file", path }] }),
      logger: pino({ level: "silent" }),
      retry: { minMs: 50, maxMs: 200 },
    });
    try {
      for (let i = 0; i < 20; i++) siem.handle([event(i)]);
      await siem.flush();
      const text = await readFile(path, "utf8");
      const lines = text.trimEnd().split("\n");
      expect(lines).toHaveLength(20);
      expect(lines.every((l) => !("personal" in (JSON.parse(l) as object)))).toBe(true);
      expect(leaks(text)).toEqual([]);
    } finally {
      await siem.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

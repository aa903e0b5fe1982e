// The decision recorder under a flood of distinct keys: counts are sent early, not held without bound.
import { expect, test } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { createDecisionRecorder } from "./decisions.ts";

test("ten thousand distinct clients in one interval are sent at once, and counting goes on", () => {
  const events: SecurityEvent[] = [];
  const rec = createDecisionRecorder({
    emit: (e) => events.push(e),
    clock: manualClock(),
    intervalMs: 60_000,
  });
  for (let i = 0; i < 10_000; i++) rec.record("ip_denied", "*/", `10.0.${i >> 8}.${i & 255}`);
  expect(events).toHaveLength(0);
  rec.record("ip_denied", "*/", "192.0.2.1");
  expect(events).toHaveLength(10_000);
  rec.record("ip_denied", "*/", "192.0.2.1");
  rec.close();
  expect(events.at(-1)).toMatchObject({ actor: { id: "192.0.2.1" }, data: { count: 2 } });
});

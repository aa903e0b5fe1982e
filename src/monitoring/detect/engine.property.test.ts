// Property: for any stream of events, a count rule fires exactly when a naive reference does —
// when the events of the last `window` since the group's last firing weigh at least `threshold`
// and the group is not within `suppress` of that firing. Event times fall on bucket boundaries
// (window / 60), where the bucketed window is exact.
import fc from "fast-check";
import { expect, test } from "vitest";
import { manualClock } from "../../platform/clock.ts";
import { newEvent, type SecurityEvent } from "../../platform/events/index.ts";
import { createDetector } from "./engine.ts";
import { parseRule } from "./schema.ts";

interface Step {
  gap: number;
  group: number;
  weight: number | undefined;
}

/** The obvious implementation: every event kept, every window summed from scratch. */
function reference(
  events: { t: number; group: string; weight: number }[],
  windowMs: number,
  threshold: number,
  suppressMs: number,
): Array<[number, string, number]> {
  const since = new Map<string, { t: number; weight: number }[]>();
  const quiet = new Map<string, number>();
  const fired: Array<[number, string, number]> = [];
  events.forEach((e, i) => {
    const list = since.get(e.group) ?? [];
    list.push(e);
    since.set(e.group, list);
    if (e.t < (quiet.get(e.group) ?? -Infinity)) return;
    const sum = list.filter((x) => x.t > e.t - windowMs).reduce((a, x) => a + x.weight, 0);
    if (sum >= threshold) {
      fired.push([i, e.group, sum]);
      since.set(e.group, []);
      quiet.set(e.group, e.t + suppressMs);
    }
  });
  return fired;
}

test("a count rule fires iff the reference does", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(60, 300),
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(0, 10, 60, 240),
      fc.array(
        fc.record({
          // Gaps of 30 and 60 buckets put events exactly on the window's edge.
          gap: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(30, 59, 60, 61)),
          group: fc.integer({ min: 0, max: 2 }),
          weight: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
        }),
        { maxLength: 300 },
      ),
      fc.integer({ min: 1, max: 50 }),
      (windowS, threshold, suppressS, steps: Step[], batch) => {
        const rule = parseRule({
          id: "prop",
          title: "Property",
          priority: "P3",
          match: { type: "identity.login_failed" },
          groupBy: { who: "actor.id" },
          condition: { kind: "count", threshold, window: `${windowS}s` },
          suppress: `${suppressS}s`,
        });
        const bucketMs = (windowS * 1000) / 60;
        const clock = manualClock("2026-03-02T10:00:00Z");
        const detector = createDetector({
          rules: () => [rule],
          clock,
          environment: () => "prod",
          onDetection: () => {},
        });
        const base = clock.now().getTime();
        let t = base;
        const events: SecurityEvent[] = [];
        const plain: { t: number; group: string; weight: number }[] = [];
        for (const s of steps) {
          t += s.gap * bucketMs;
          const group = `g${s.group}`;
          events.push(
            newEvent(
              {
                type: "identity.login_failed",
                actor: { kind: "ip", id: group },
                outcome: "failure",
                ...(s.weight !== undefined ? { data: { count: s.weight } } : {}),
              },
              new Date(t),
            ),
          );
          plain.push({ t, group, weight: s.weight ?? 1 });
        }
        const index = new Map(events.map((e, i) => [e.id, i]));
        const got: Array<[number, string, number]> = [];
        for (let i = 0; i < events.length; i += batch)
          for (const d of detector.process(events.slice(i, i + batch)))
            got.push([index.get(d.events.at(-1)!)!, d.group.who!, d.count]);
        expect(got).toEqual(reference(plain, windowS * 1000, threshold, suppressS * 1000));
      },
    ),
    { numRuns: 300 },
  );
});

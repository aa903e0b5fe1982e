// What the property (fuzz) tests share: a time bound per call, hostile JSON-like values, and edits
// of a valid sample at any path.
import fc from "fast-check";

/**
 * Runs `fn` within `bound` ms. Timed twice before failing: a GC pause or a busy CI machine is not
 * what this looks for, and catastrophic backtracking or quadratic work is slow both times.
 */
export function timed<T>(what: string, fn: () => T, bound: number): T {
  let started = performance.now();
  const result = fn();
  if (performance.now() - started > bound) {
    started = performance.now();
    fn();
    const ms = performance.now() - started;
    if (ms > bound) throw new Error(`${what} took ${ms.toFixed(0)} ms twice (bound ${bound} ms)`);
  }
  return result;
}

/**
 * Values to put anywhere in a document: binary strings, the module's own words (`strings`), edge
 * numbers and other scalars (`scalars`), and small arrays and objects whose keys include the
 * prototype's names and the module's own (`keys`).
 */
export function hostileValue(o: {
  strings: readonly string[];
  keys: readonly string[];
  scalars?: readonly (number | boolean | null)[];
  maxLength?: number;
}): fc.Arbitrary<unknown> {
  const scalars = o.scalars ?? [1e308, -1, 0, 2 ** 53 + 1, 0.5, null, true, false];
  return fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.string({ maxLength: o.maxLength ?? 30, unit: "binary" }),
      fc.constantFrom(...o.strings),
      fc.constantFrom(...scalars),
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(
        fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("__proto__", "constructor", ...o.keys)),
        tie("value"),
        { maxKeys: 3 },
      ),
    ),
  })).value;
}

export type Path = (string | number)[];

/** Every path to a node of `v`, the root (`[]`) first. */
export function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/** Put as the value of `replaced` to remove the node instead. */
export const REMOVED = Symbol("removed");

/**
 * `v` with the node at `path` replaced by `value` (or removed, for REMOVED). Keys are defined, not
 * assigned, so a `__proto__` key stays an own key.
 */
export function replaced(v: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value === REMOVED ? null : value;
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(v)) {
    const copy = [...(v as unknown[])];
    if (rest.length === 0 && value === REMOVED) copy.splice(head as number, 1);
    else copy[head as number] = replaced(copy[head as number], rest, value);
    return copy;
  }
  const copy = { ...(v as object) } as Record<string | number, unknown>;
  if (rest.length === 0 && value === REMOVED) delete copy[head];
  else
    Object.defineProperty(copy, head, {
      value: replaced(copy[head], rest, value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return copy;
}

/**
 * A "billion laughs" in YAML: `levels` anchors of ten aliases each to the one before, 10^levels
 * nodes if expanded naively; one `a<level>:` key per line.
 */
export function aliasBomb(levels: number): string {
  const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
  for (let l = 1; l < levels; l++)
    lines.push(
      `a${l}: &a${l} [${Array(10)
        .fill(`*a${l - 1}`)
        .join(", ")}]`,
    );
  return `${lines.join("\n")}\n`;
}

/**
 * `sample` with one to four edits at random places: a character replaced by one drawn from
 * `flips`, up to `maxCut` characters cut, or up to `maxDup` characters written twice.
 */
export function textEdits(
  sample: string,
  o: { flips: fc.Arbitrary<string>; maxCut: number; maxDup: number },
): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        fc.tuple(fc.constant("flip" as const), fc.nat(), o.flips),
        fc.tuple(fc.constant("cut" as const), fc.nat(), fc.nat({ max: o.maxCut }).map(String)),
        fc.tuple(fc.constant("dup" as const), fc.nat(), fc.nat({ max: o.maxDup }).map(String)),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((edits) =>
      edits.reduce((s, [kind, n, arg]) => {
        const i = n % (s.length + 1);
        if (kind === "flip") return s.slice(0, i) + arg + s.slice(i + 1);
        if (kind === "cut") return s.slice(0, i) + s.slice(i + Number(arg));
        return s.slice(0, i) + s.slice(i, i + Number(arg)) + s.slice(i);
      }, sample),
    );
}

/**
 * The time bound for one parse of `text`: 1 s for a few KiB, 8 s past 8 KiB, as YAML parsers run
 * about 100 KiB/s on a busy machine (linear growth passes, quadratic would not).
 */
export const boundFor = (text: string): number => (text.length > 8192 ? 8000 : 1000);

// Sliding windows over event time with bounded memory. A count window keeps its events in 60
// buckets of window/60, so a flood costs one bucket, not one entry per event; its resolution is
// one bucket: a bucket counts while its start lies inside the window, so the engine never counts
// more than happened within `window` (it may count up to one bucket less).
export const BUCKETS_PER_WINDOW = 60;

export interface CountWindow {
  readonly windowMs: number;
  readonly widthMs: number;
  /**
   * Buckets, oldest first, four numbers each (index k = floor(time / width), weight, first and
   * last event time), from `head`: flat, so an event allocates nothing.
   */
  b: number[];
  head: number;
  /** Newest event time seen (ms); the window is (latest - windowMs, latest]. */
  latest: number;
  total: number;
}

/** An empty count window of `windowMs`. */
export function countWindow(windowMs: number): CountWindow {
  return {
    windowMs,
    widthMs: Math.max(1, Math.ceil(windowMs / BUCKETS_PER_WINDOW)),
    b: [],
    head: 0,
    latest: -Infinity,
    total: 0,
  };
}

function expireCounts(w: CountWindow): void {
  const edge = w.latest - w.windowMs;
  const b = w.b;
  let h = w.head;
  while (h < b.length && b[h]! * w.widthMs <= edge) {
    w.total -= b[h + 1]!;
    h += 4;
  }
  if (h >= b.length) {
    b.length = 0;
    h = 0;
    w.total = 0; // no drift from fractional weights
  } else if (h >= 64) {
    b.splice(0, h);
    h = 0;
  }
  w.head = h;
}

/** Adds `weight` at event time `t`; returns false when `t` already lies outside the window. */
export function addCount(w: CountWindow, t: number, weight: number): boolean {
  if (t > w.latest) {
    w.latest = t;
    expireCounts(w);
  }
  const k = Math.floor(t / w.widthMs);
  if (k * w.widthMs <= w.latest - w.windowMs) return false;
  const b = w.b;
  let i = b.length - 4;
  // Late events (batches from several gateways) land in their own bucket; usually the last one.
  while (i >= w.head && b[i]! > k) i -= 4;
  if (i >= w.head && b[i] === k) {
    b[i + 1]! += weight;
    if (t < b[i + 2]!) b[i + 2] = t;
    if (t > b[i + 3]!) b[i + 3] = t;
  } else if (i + 4 === b.length) b.push(k, weight, t, t);
  else b.splice(i + 4, 0, k, weight, t, t);
  w.total += weight;
  return true;
}

/** Buckets held (for the memory figures). */
export const countBuckets = (w: CountWindow): number => (w.b.length - w.head) / 4;

/** Times of the first and last events still counted. */
export function countSpan(w: CountWindow): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (let i = w.head; i < w.b.length; i += 4) {
    if (w.b[i + 2]! < first) first = w.b[i + 2]!;
    if (w.b[i + 3]! > last) last = w.b[i + 3]!;
  }
  return { first, last };
}

export function clearCounts(w: CountWindow): void {
  w.b.length = 0;
  w.head = 0;
  w.total = 0;
}

export interface DistinctWindow {
  readonly windowMs: number;
  /** Values kept at most: past this the oldest go, since only reaching the threshold matters. */
  readonly cap: number;
  readonly threshold: number;
  /** value → last time; Map order is (nearly) time order. */
  values: Map<string, number>;
  latest: number;
}

/** An empty distinct-values window that needs to tell counts up to `threshold`. */
export function distinctWindow(windowMs: number, threshold: number): DistinctWindow {
  return { windowMs, cap: Math.max(2 * threshold, 16), threshold, values: new Map(), latest: -Infinity };
}

/**
 * Records `value` at `t`; returns the number of distinct values inside the window (exact once it
 * reaches the threshold; below it, possibly counting a late value that has already expired).
 */
export function addDistinct(w: DistinctWindow, value: string, t: number): number {
  if (t > w.latest) w.latest = t;
  const edge = w.latest - w.windowMs;
  if (t > edge) {
    const prev = w.values.get(value);
    if (prev === undefined || prev < t) {
      w.values.delete(value);
      w.values.set(value, t);
    }
  }
  for (const [v, at] of w.values) {
    if (at > edge && w.values.size <= w.cap) break;
    w.values.delete(v);
  }
  if (w.values.size < w.threshold) return w.values.size;
  let n = 0;
  // Late events can leave an expired value behind a fresh one: count only what is inside.
  for (const at of w.values.values()) if (at > edge) n++;
  return n;
}

/** Times of the oldest and newest values still inside. */
export function distinctSpan(w: DistinctWindow): { first: number; last: number } {
  let first = Infinity;
  const edge = w.latest - w.windowMs;
  for (const at of w.values.values()) if (at > edge && at < first) first = at;
  return { first, last: w.latest };
}

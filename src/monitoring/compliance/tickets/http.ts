// The one way the trackers talk HTTP: JSON in and out, a timeout on every call, and errors that
// name the tracker, the operation and the status with the tracker's own words, never the token.
import { RampartError } from "../../../platform/errors.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;

/** A tracker refused or failed a call; `httpStatus` is absent when no answer came (timeout, refused). */
export class TrackerError extends RampartError {
  readonly tracker: string;
  readonly operation: string;
  readonly httpStatus: number | undefined;
  constructor(
    tracker: string,
    operation: string,
    message: string,
    httpStatus?: number,
    options?: ErrorOptions,
  ) {
    super("tracker_failed", 502, message, options);
    this.tracker = tracker;
    this.operation = operation;
    this.httpStatus = httpStatus;
  }
}

export interface JsonClient {
  /** Sends `body` as JSON (when given) and returns the parsed answer, or undefined for an empty one. */
  call(operation: string, method: string, path: string, body?: unknown): Promise<unknown>;
}

export interface JsonClientOptions {
  tracker: string;
  /** Base URL the paths are appended to, without a trailing slash. */
  baseUrl: string;
  headers: Record<string, string>;
  /** Values that must never appear in an error (the token and anything derived from it). */
  secrets: string[];
  timeoutMs?: number | undefined;
  /** Picks the tracker's own explanation out of an error body. */
  explain: (body: unknown) => string | undefined;
}

const MAX_MESSAGE = 500;

export function createJsonClient(o: JsonClientOptions): JsonClient {
  const base = o.baseUrl.replace(/\/+$/, "");
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const scrub = (text: string) =>
    o.secrets.filter((s) => s.length > 0).reduce((t, s) => t.split(s).join("[redacted]"), text);
  const fail = (operation: string, detail: string, status?: number, cause?: unknown) =>
    new TrackerError(
      o.tracker,
      operation,
      scrub(`${o.tracker}: ${operation} failed: ${detail}`).slice(0, MAX_MESSAGE),
      status,
      cause === undefined ? undefined : { cause: new Error(scrub(String(cause))) },
    );

  return {
    async call(operation, method, path, body) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...o.headers,
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const timedOut = err instanceof Error && err.name === "TimeoutError";
        const why = timedOut
          ? `no answer within ${timeoutMs} ms`
          : `cannot reach ${new URL(base).origin} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : String(err)})`;
        throw fail(operation, why, undefined, err);
      }
      const text = await res.text().catch(() => "");
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!res.ok) {
        const own = o.explain(parsed);
        throw fail(operation, `HTTP ${res.status}${own ? `: ${own}` : ""}`, res.status);
      }
      if (text && parsed === undefined)
        throw fail(operation, `HTTP ${res.status} with a body that is not JSON`, res.status);
      return parsed;
    },
  };
}

/** Reads a nested property without trusting the shape. */
export function field(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const k of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** A field that must be there: its absence means the tracker answered something we do not understand. */
export function required<T>(
  tracker: string,
  operation: string,
  value: unknown,
  what: string,
  check: (v: unknown) => v is T,
): T {
  if (!check(value))
    throw new TrackerError(tracker, operation, `${tracker}: ${operation}: the answer has no ${what}`);
  return value;
}

export const isString = (v: unknown): v is string => typeof v === "string";
export const isNumber = (v: unknown): v is number => typeof v === "number";

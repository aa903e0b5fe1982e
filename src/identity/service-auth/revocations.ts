// Revoking a subject: every access token and API key it holds stops working on every replica at
// once. The list of revoked subjects (subject → revoked-after time) is one hot-state value,
// changed by compare-and-set. A change is announced on a channel and every replica also re-reads
// the value each second, since pub/sub may drop a message; verifiers check their local copy, so
// the request path does no I/O. An entry lives as long as the longest credential it may cover.
import type { Clock } from "../../platform/clock.ts";
import { Invalid, Unavailable } from "../../platform/errors.ts";
import { newEvent, type EventRef, type SecurityEvent } from "../../platform/events/index.ts";
import type { HotState } from "../../platform/hotstate/index.ts";

const KEY = "identity:revocations";
const CHANNEL = "identity:revocations";
/** The longest any credential covered here may live (API keys); entries are kept this long. */
export const MAX_CREDENTIAL_LIFETIME_MS = 365 * 86_400_000;
const MAX_ENTRIES = 100_000;

/** revoked-after (epoch ms) and the entry's expiry (epoch ms), by subject. */
type Entries = Record<string, [revokedAfter: number, expiresAt: number]>;

export interface RevocationsOptions {
  hotState: HotState;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  /** How often the list is re-read in case an announcement was missed (default 1000 ms). */
  refreshMs?: number;
}

export interface Revocations {
  /** Every credential of `subject` issued until now fails from now on, on every replica. */
  revokeSubject(subject: string, by: EventRef, reason?: string): Promise<void>;
  /** True when a credential of `subject` issued at `issuedAtMs` was revoked (local check, no I/O). */
  isRevoked(subject: string, issuedAtMs: number): boolean;
  /** Loads the list and keeps it fresh; call once before verifying. */
  start(): Promise<void>;
  refresh(): Promise<void>;
  close(): Promise<void>;
}

function parse(raw: string | null): Entries {
  let v: unknown;
  try {
    v = raw ? JSON.parse(raw) : {};
  } catch {
    return {};
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return {};
  // Only well-formed entries: a damaged one must not break every reader.
  const ok = ([, e]: [string, unknown]) =>
    Array.isArray(e) && e.length === 2 && e.every((n) => typeof n === "number");
  return Object.fromEntries(Object.entries(v).filter(ok)) as Entries;
}

/** The revocation list shared through hot state; see the module comment. */
export function createRevocations(opts: RevocationsOptions): Revocations {
  const { hotState, clock } = opts;
  const refreshMs = opts.refreshMs ?? 1000;
  let local = new Map<string, number>();
  let lastRaw: string | null | undefined;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  // Reads may overlap (an announcement during the interval's read): only the newest may apply.
  let started = 0;
  let applied = 0;

  async function refresh(): Promise<void> {
    const mine = ++started;
    const raw = await hotState.get(KEY);
    if (mine < applied || raw === lastRaw) return;
    applied = mine;
    lastRaw = raw;
    local = new Map(Object.entries(parse(raw)).map(([s, [after]]) => [s, after]));
  }

  // Compare-and-set until no other writer got in between; expired entries are dropped on the way.
  async function write(subject: string): Promise<{ at: number; written: string }> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await hotState.get(KEY);
      const at = clock.now().getTime();
      const entries = new Map(Object.entries(parse(raw)).filter(([, [, exp]]) => exp > at));
      if (!entries.has(subject) && entries.size >= MAX_ENTRIES)
        throw new Unavailable("the revocation list is full");
      entries.set(subject, [at, at + MAX_CREDENTIAL_LIFETIME_MS]);
      // The entry just written is the one that expires last.
      const written = JSON.stringify(Object.fromEntries(entries));
      if (await hotState.compareAndSet(KEY, raw, written, MAX_CREDENTIAL_LIFETIME_MS)) return { at, written };
    }
    throw new Unavailable("the revocation list is changing too fast; try again");
  }

  return {
    async revokeSubject(subject, by, reason) {
      if (typeof subject !== "string" || subject.length === 0 || subject.length > 512)
        throw new Invalid("must be a non-empty string of at most 512 characters", "subject");
      const { at, written } = await write(subject);
      // This replica enforces it now, and a read that started earlier cannot undo that.
      applied = ++started;
      lastRaw = written;
      local = new Map(Object.entries(parse(written)).map(([s, [after]]) => [s, after]));
      await hotState.publish(CHANNEL, "changed").catch(() => {});
      opts.emit(
        newEvent(
          {
            type: "identity.subject_revoked",
            severity: "high",
            actor: by,
            target: { kind: "subject", id: subject },
            data: { revokedAfter: new Date(at).toISOString(), ...(reason ? { reason } : {}) },
          },
          clock.now(),
        ),
      );
    },
    isRevoked(subject, issuedAtMs) {
      const after = local.get(subject);
      return after !== undefined && issuedAtMs <= after;
    },
    async start() {
      unsubscribe = await hotState.subscribe(CHANNEL, () => refresh());
      await refresh();
      timer = setInterval(() => {
        // A failed read keeps the last copy; the next tick tries again.
        refresh().catch(() => {});
      }, refreshMs);
      timer.unref();
    },
    refresh,
    async close() {
      if (timer) clearInterval(timer);
      await unsubscribe?.();
    },
  };
}

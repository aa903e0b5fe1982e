// Revoking a subject: every access token and API key it holds stops working on every replica at
// once. The list of revoked subjects (subject → revoked-after time) is one hot-state value,
// changed by compare-and-set. A change is announced on a channel and every replica also re-reads
// the value each second, since pub/sub may drop a message; verifiers check their local copy, so
// the request path does no I/O. An entry lives as long as the longest credential it may cover.
// The control plane also keeps each revocation in PostgreSQL and puts back any that hot state lost
// (a Redis restart without persistence), so a lost list does not revive revoked credentials.
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

/** One subject's revocation, as the control plane's ledger keeps it. */
export interface RevocationEntry {
  subject: string;
  /** Credentials issued at or before this (epoch ms) fail. */
  revokedAfter: number;
  /** When the entry may go (epoch ms). */
  expiresAt: number;
}

export interface Revocations {
  /** Every credential of `subject` issued until now fails from now on, on every replica. */
  revokeSubject(subject: string, by: EventRef, reason?: string): Promise<void>;
  /**
   * Puts back entries the shared list lacks (or holds older), without events: for the ledger after
   * a loss of hot state. Returns how many were put back; writes nothing when none were missing.
   */
  restore(entries: readonly RevocationEntry[]): Promise<number>;
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
  // `change` edits the live entries and says whether it changed anything (nothing is written if not).
  async function write(
    change: (entries: Map<string, [number, number]>, at: number) => boolean,
  ): Promise<{ at: number; written: string } | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await hotState.get(KEY);
      const at = clock.now().getTime();
      const entries = new Map(Object.entries(parse(raw)).filter(([, [, exp]]) => exp > at));
      if (!change(entries, at)) return undefined;
      if (entries.size > MAX_ENTRIES) throw new Unavailable("the revocation list is full");
      const written = JSON.stringify(Object.fromEntries(entries));
      const ttl = Math.max(...[...entries.values()].map(([, exp]) => exp)) - at;
      if (await hotState.compareAndSet(KEY, raw, written, ttl)) return { at, written };
    }
    throw new Unavailable("the revocation list is changing too fast; try again");
  }

  // This replica enforces what it just wrote, and a read that started earlier cannot undo that.
  async function applyWritten(written: string): Promise<void> {
    applied = ++started;
    lastRaw = written;
    local = new Map(Object.entries(parse(written)).map(([s, [after]]) => [s, after]));
    await hotState.publish(CHANNEL, "changed").catch(() => {});
  }

  return {
    async revokeSubject(subject, by, reason) {
      if (typeof subject !== "string" || subject.length === 0 || subject.length > 512)
        throw new Invalid("must be a non-empty string of at most 512 characters", "subject");
      const done = await write((entries, at) => {
        entries.set(subject, [at, at + MAX_CREDENTIAL_LIFETIME_MS]);
        return true;
      });
      const { at, written } = done as { at: number; written: string };
      await applyWritten(written);
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
    async restore(ledger) {
      let restored = 0;
      const done = await write((entries, at) => {
        restored = 0;
        for (const e of ledger) {
          const held = entries.get(e.subject);
          if (e.expiresAt <= at || (held && held[0] >= e.revokedAfter)) continue;
          entries.set(e.subject, [e.revokedAfter, e.expiresAt]);
          restored++;
        }
        return restored > 0;
      });
      if (done) await applyWritten(done.written);
      return done ? restored : 0;
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

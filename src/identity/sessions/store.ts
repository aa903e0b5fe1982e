// Server-side sessions in HotState behind an opaque cookie. The cookie holds 32 random bytes; the
// HotState key is their SHA-256, so a dump of Redis yields no cookie anyone could present. Each
// replica caches sessions for at most `recheckMs` and drops them at once when another replica
// announces a logout or revocation on a pub/sub channel; a lost message delays revocation by at
// most `recheckMs`.
import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { newEvent, type SecurityEvent } from "../../platform/events/types.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Identity } from "../types.ts";

/** What the identity provider gave us; kept to refresh and to log out at the provider. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string | undefined;
  idToken?: string | undefined;
  /** When the access token expires, epoch milliseconds. */
  expiresAt?: number | undefined;
}

export interface Session {
  /** SHA-256 of the cookie's id (hex): the HotState key. It cannot be turned back into a cookie. */
  handle: string;
  identity: Identity;
  /** Id of the identity provider (as configured) that signed the user in. */
  provider: string;
  tokens: TokenSet;
  /** The provider's session id (`sid` claim), for back-channel logout. */
  sid?: string | undefined;
  /** Epoch milliseconds. */
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end of the session, epoch milliseconds. */
  expiresAt: number;
}

export type NewSession = Pick<Session, "identity" | "provider" | "tokens" | "sid">;

export interface SessionStoreOptions {
  hotState: HotState;
  clock?: Clock;
  emit?: (event: SecurityEvent) => void;
  logger?: Logger;
  /** A session unused this long ends (default 30 min). */
  idleTimeoutMs?: number;
  /** A session ends this long after login whatever happens (default 12 h). */
  absoluteTimeoutMs?: number;
  /** Last-seen is written at most this often (default 1 min), so idle expiry is accurate to it. */
  touchIntervalMs?: number;
  /** A cached session is re-read from HotState after this long (default 1 s). */
  recheckMs?: number;
  /** Sessions cached per replica (default 10,000). */
  cacheSize?: number;
}

export interface SessionStore {
  /** Stores a new session; `id` goes into the cookie and nowhere else. */
  create(input: NewSession): Promise<{ id: string; session: Session }>;
  /** The live session for a cookie value, or null (unknown, malformed, idle or past its absolute end). */
  get(id: string | undefined): Promise<Session | null>;
  /**
   * What `get` would answer, when this replica can tell without I/O: a session cached, live and not
   * due for a touch. Undefined means ask `get`.
   */
  peek(id: string | undefined): Session | undefined;
  /** The session as HotState holds it now, bypassing the cache; null when gone or expired. */
  read(handle: string): Promise<Session | null>;
  /** Atomically rewrites a session with `update` (retried on concurrent writes); null when it is gone. */
  replace(handle: string, update: (current: Session) => Session): Promise<Session | null>;
  /** Ends one session on every replica; true when it existed. */
  destroy(handle: string): Promise<boolean>;
  /** Ends every session of a subject on every replica; returns how many there were. */
  revokeSubject(subject: string, reason?: string): Promise<number>;
  /** A subject's live sessions, at most `limit` of them (the index a revocation also walks). */
  sessionsOf(subject: string, limit: number): Promise<{ sessions: Session[]; truncated: boolean }>;
  /** Ends the sessions a provider's session id (`sid`) maps to; returns how many there were. */
  destroyBySid(provider: string, sid: string): Promise<number>;
  /** Subscribes to other replicas' logouts and revocations. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = "identity:sessions:dropped";
const ID = /^[A-Za-z0-9_-]{43}$/;
const HANDLE = /^[0-9a-f]{64}$/;

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");
const sessionKey = (handle: string): string => `session:${handle}`;
const subjectKey = (subject: string): string => `session:subject:${sha256(subject)}`;
const sidKey = (provider: string, sid: string): string => `session:sid:${sha256(`${provider}\n${sid}`)}`;

/** Index entries: session handle and the session's absolute end, so stale entries can be pruned. */
type IndexEntries = Array<[handle: string, expiresAt: number]>;

/** Creates a session store over `hotState`. */
export function createSessionStore(opts: SessionStoreOptions): SessionStore {
  const { hotState } = opts;
  const clock = opts.clock ?? systemClock;
  const idleMs = opts.idleTimeoutMs ?? 30 * 60_000;
  const absoluteMs = opts.absoluteTimeoutMs ?? 12 * 3_600_000;
  const touchMs = opts.touchIntervalMs ?? 60_000;
  const recheckMs = opts.recheckMs ?? 1000;
  const cacheSize = opts.cacheSize ?? 10_000;
  // Cookie id → handle: the same browser sends the same cookie request after request, and hashing
  // it each time cost more than the rest of the lookup.
  const handles = new Map<string, string>();
  const handleOf = (id: string): string => {
    let handle = handles.get(id);
    if (handle === undefined) {
      if (handles.size >= cacheSize) handles.clear();
      handles.set(id, (handle = sha256(id)));
    }
    return handle;
  };
  const cache = new Map<string, { session: Session; checkedAt: number }>();
  let unsubscribe: (() => Promise<void>) | undefined;

  const now = (): number => clock.now().getTime();
  const live = (s: Session, t: number): boolean => t < s.expiresAt && t - s.lastSeenAt < idleMs;
  const ttlOf = (s: Session, t: number): number =>
    Math.max(1, Math.min(s.expiresAt, s.lastSeenAt + idleMs) - t);

  function remember(session: Session, t: number): void {
    cache.delete(session.handle);
    cache.set(session.handle, { session, checkedAt: t });
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
  }

  function parse(raw: string | null): Session | null {
    return raw === null ? null : (JSON.parse(raw) as Session);
  }

  async function updateIndex(key: string, change: (entries: IndexEntries) => IndexEntries): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await hotState.get(key);
      const t = now();
      const entries = change((raw ? (JSON.parse(raw) as IndexEntries) : []).filter(([, exp]) => exp > t));
      const ttl = Math.max(0, ...entries.map(([, exp]) => exp - t));
      if (
        await hotState.compareAndSet(
          key,
          raw,
          entries.length ? JSON.stringify(entries) : null,
          ttl || undefined,
        )
      )
        return;
    }
    opts.logger?.warn("session index: too many concurrent writers; entry left to expire");
  }

  async function indexed(key: string): Promise<string[]> {
    const raw = await hotState.get(key);
    return raw ? (JSON.parse(raw) as IndexEntries).map(([h]) => h) : [];
  }

  async function announce(handles: string[]): Promise<void> {
    for (const h of handles) cache.delete(h);
    if (handles.length) await hotState.publish(CHANNEL, handles.join(","));
  }

  async function drop(session: Session): Promise<boolean> {
    const existed = await hotState.del(sessionKey(session.handle));
    const without = (e: IndexEntries) => e.filter(([h]) => h !== session.handle);
    await updateIndex(subjectKey(session.identity.subject), without);
    if (session.sid) await updateIndex(sidKey(session.provider, session.sid), without);
    return existed;
  }

  async function read(handle: string): Promise<Session | null> {
    if (!HANDLE.test(handle)) return null;
    const s = parse(await hotState.get(sessionKey(handle)));
    return s && live(s, now()) ? s : null;
  }

  async function replace(handle: string, update: (current: Session) => Session): Promise<Session | null> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await hotState.get(sessionKey(handle));
      const current = parse(raw);
      const t = now();
      if (!current || !live(current, t)) return null;
      const next = { ...update(current), handle };
      if (await hotState.compareAndSet(sessionKey(handle), raw, JSON.stringify(next), ttlOf(next, t))) {
        remember(next, t);
        return next;
      }
    }
    return null;
  }

  // A browser's parallel requests reach the touch interval together: one write per replica, which
  // the others wait for, rather than a compare-and-set race that some would lose.
  const touching = new Map<string, Promise<Session | null>>();
  function touch(handle: string, t: number): Promise<Session | null> {
    let pending = touching.get(handle);
    if (!pending) {
      pending = replace(handle, (s) => ({ ...s, lastSeenAt: Math.max(s.lastSeenAt, t) }))
        // Still contended after every retry (other replicas): the session is no less live for it.
        .then((next) => next ?? read(handle))
        .finally(() => touching.delete(handle));
      touching.set(handle, pending);
    }
    return pending;
  }

  async function dropAll(key: string): Promise<number> {
    const handles = await indexed(key);
    let n = 0;
    for (const h of handles) {
      const s = parse(await hotState.get(sessionKey(h)));
      if (s && (await drop(s))) n++;
    }
    await hotState.del(key);
    await announce(handles);
    return n;
  }

  return {
    async create(input) {
      const id = randomBytes(32).toString("base64url");
      const t = now();
      const session: Session = {
        handle: sha256(id),
        identity: input.identity,
        provider: input.provider,
        tokens: input.tokens,
        sid: input.sid,
        createdAt: t,
        lastSeenAt: t,
        expiresAt: t + absoluteMs,
      };
      await hotState.set(sessionKey(session.handle), JSON.stringify(session), { ttlMs: ttlOf(session, t) });
      const entry = (e: IndexEntries): IndexEntries => [...e, [session.handle, session.expiresAt]];
      await updateIndex(subjectKey(session.identity.subject), entry);
      if (session.sid) await updateIndex(sidKey(session.provider, session.sid), entry);
      remember(session, t);
      return { id, session };
    },

    async get(id) {
      if (id === undefined || !ID.test(id)) return null;
      const handle = handleOf(id);
      const t = now();
      const cached = cache.get(handle);
      let session: Session | null;
      if (cached && t - cached.checkedAt < recheckMs) {
        session = cached.session;
      } else {
        session = parse(await hotState.get(sessionKey(handle)));
        if (session) remember(session, t);
        else cache.delete(handle);
      }
      if (!session) return null;
      if (!live(session, t)) {
        cache.delete(handle);
        await drop(session);
        return null;
      }
      if (t - session.lastSeenAt >= touchMs) return touch(handle, t);
      return session;
    },

    peek(id) {
      if (id === undefined) return undefined;
      const handle = handles.get(id); // hashed before by `get`, which also checked the id's shape
      const cached = handle === undefined ? undefined : cache.get(handle);
      if (cached === undefined) return undefined;
      const t = now();
      const s = cached.session;
      return t - cached.checkedAt < recheckMs && live(s, t) && t - s.lastSeenAt < touchMs ? s : undefined;
    },

    read,
    replace,

    async destroy(handle) {
      const s = HANDLE.test(handle) ? parse(await hotState.get(sessionKey(handle))) : null;
      const existed = s ? await drop(s) : false;
      await announce([handle]);
      return existed;
    },

    async revokeSubject(subject, reason = "revoked") {
      const n = await dropAll(subjectKey(subject));
      opts.emit?.(
        newEvent(
          {
            type: "identity.session_revoked",
            actor: { kind: "user", id: subject },
            severity: "medium",
            data: { sessions: n, reason },
          },
          clock.now(),
        ),
      );
      return n;
    },

    destroyBySid: (provider, sid) => dropAll(sidKey(provider, sid)),

    async sessionsOf(subject, limit) {
      const handles = await indexed(subjectKey(subject));
      const found = await Promise.all(handles.slice(0, limit).map(read));
      return {
        sessions: found.filter((s): s is Session => s !== null && s.identity.subject === subject),
        truncated: handles.length > limit,
      };
    },

    async start() {
      if (unsubscribe) return;
      unsubscribe = await hotState.subscribe(CHANNEL, (message) => {
        for (const h of message.split(",")) cache.delete(h);
      });
    },

    async close() {
      await unsubscribe?.();
      unsubscribe = undefined;
      cache.clear();
    },
  };
}

// API keys: `rpk_<id>_<secret>`. The fixed prefix makes a leaked key easy to find in code and logs
// (API_KEY_PATTERN); the id names the record without revealing the secret. Keys are random, so
// a SHA-256 of the whole key is all that is stored. Records live in hot state: the control plane
// writes them, gateways read them through a per-replica cache that a revocation clears at once
// over pub/sub and that never trusts an entry older than a second, in case a message was lost.
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import type { Clock } from "../../platform/clock.ts";
import { Invalid, NotFound, Unavailable } from "../../platform/errors.ts";
import { newEvent, type EventRef, type SecurityEvent } from "../../platform/events/index.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Identity } from "../types.ts";
import type { ServiceAccounts } from "./accounts.ts";
import { MAX_CREDENTIAL_LIFETIME_MS, type Revocations } from "./revocations.ts";

/** What a Rampart API key looks like, for secret scanners (`grep -E`). */
export const API_KEY_PATTERN = /rpk_[a-z0-9]{8}_[A-Za-z0-9_-]{43}/;
const EXACT = new RegExp(`^${API_KEY_PATTERN.source}$`);
const ID = /^[a-z0-9]{8}$/;
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const CHANNEL = "identity:apikeys";
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
// A replica writes a key's last use at most this often.
const LAST_USED_EVERY_MS = 60_000;
const MAX_KEYS_PER_SUBJECT = 1000;

/** An API key as the control plane shows it: everything but the key and its hash. */
export interface ApiKey {
  id: string;
  kind: "user" | "service";
  /** A service account's name, or a user's `<provider>:<sub>`. */
  subject: string;
  scopes: string[];
  description: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt?: string;
  revokedBy?: string;
  lastUsedAt?: string;
}

interface StoredApiKey extends Omit<ApiKey, "lastUsedAt"> {
  /** SHA-256 of the whole key, hex. */
  hash: string;
}

export interface NewApiKey {
  kind: "user" | "service";
  subject: string;
  scopes: string[];
  description?: string;
  /** At most a year. */
  ttlSeconds: number;
}

export interface ApiKeysOptions {
  hotState: HotState;
  clock: Clock;
  emit: (event: SecurityEvent) => void;
  /** Service accounts in force: a service's key dies with its account, and takes its roles. */
  accounts: ServiceAccounts;
  revocations: Revocations;
  /** How long a replica trusts a cached record (default 1000 ms). */
  cacheMaxAgeMs?: number;
  cacheSize?: number;
}

/** The control plane writes keys; gateways verify them. */
export interface ApiKeys {
  /** Creates a key; the returned `key` is shown once and never stored. */
  create(input: NewApiKey, by: EventRef): Promise<{ key: string; apiKey: ApiKey }>;
  /** Revokes one key on every replica at once; NotFound when there is no such key. */
  revoke(id: string, by: EventRef): Promise<ApiKey>;
  get(id: string): Promise<ApiKey | undefined>;
  /** A subject's keys that have not expired, revoked ones included. */
  list(subject: string): Promise<ApiKey[]>;
  /** The identity behind a presented key; undefined for anything but a live, matching key. */
  verifyApiKey(presented: string): Promise<Identity | undefined>;
  /**
   * Records that key `id` was used from `ip`: an `identity.api_key_used` event the first time this
   * replica sees the pair and once a minute after, so detections can spot a key used from a new
   * address without an event per request.
   */
  noteUse(id: string, ip: string, where?: string): void;
  /** Listens for revocations; call once on a gateway before verifying. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest();
const recordKey = (id: string) => `identity:apikey:${id}`;
const usedKey = (id: string) => `identity:apikey-used:${id}`;
const subjectKey = (subject: string) => `identity:apikeys-of:${sha256(subject).toString("base64url")}`;

function parseRecord(raw: string | null): StoredApiKey | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as StoredApiKey;
  } catch {
    return undefined;
  }
}

function parseIds(raw: string | null): string[] {
  try {
    const ids = raw ? (JSON.parse(raw) as unknown) : [];
    return Array.isArray(ids) ? ids.filter((i): i is string => typeof i === "string") : [];
  } catch {
    return [];
  }
}

function shown(r: StoredApiKey, lastUsedAt: string | null): ApiKey {
  const { hash: _hash, ...rest } = r;
  return lastUsedAt ? { ...rest, lastUsedAt } : rest;
}

/** API keys stored in hot state; see the module comment. */
export function createApiKeys(opts: ApiKeysOptions): ApiKeys {
  const { hotState, clock, emit, accounts, revocations } = opts;
  const maxAge = opts.cacheMaxAgeMs ?? 1000;
  const cacheSize = opts.cacheSize ?? 10_000;
  const cache = new Map<string, { record: StoredApiKey | undefined; fetchedAt: number }>();
  const loading = new Map<string, Promise<StoredApiKey | undefined>>();
  const lastUsedWritten = new Map<string, number>();
  const usesReported = new Map<string, number>();
  let unsubscribe: (() => Promise<void>) | undefined;

  function audit(type: string, by: EventRef, k: StoredApiKey, severity: "info" | "medium") {
    emit(
      newEvent(
        {
          type,
          severity,
          actor: by,
          target: { kind: "api_key", id: k.id },
          data: { subject: k.subject, kind: k.kind, scopes: k.scopes, expiresAt: k.expiresAt },
        },
        clock.now(),
      ),
    );
  }

  function load(id: string): Promise<StoredApiKey | undefined> {
    const now = clock.now().getTime();
    const hit = cache.get(id);
    if (hit && now - hit.fetchedAt < maxAge) return Promise.resolve(hit.record);
    // Concurrent requests with the same key share one read.
    let pending = loading.get(id);
    if (!pending) {
      pending = hotState
        .get(recordKey(id))
        .then((raw) => {
          const record = parseRecord(raw);
          cache.delete(id);
          cache.set(id, { record, fetchedAt: now });
          if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
          return record;
        })
        .finally(() => loading.delete(id));
      loading.set(id, pending);
    }
    return pending;
  }

  function checkNew(input: NewApiKey): string[] {
    if (!Array.isArray(input.scopes) || !input.scopes.every((s) => typeof s === "string" && SCOPE.test(s)))
      throw new Invalid("expected scope tokens", "scopes");
    if (input.kind === "service") {
      const account = accounts.get(input.subject);
      if (!account) throw new Invalid(`no service account '${input.subject}'`, "subject");
      const outside = input.scopes.filter((s) => !account.scopes.includes(s));
      if (outside.length > 0)
        throw new Invalid(`not allowed for this account: ${outside.join(" ")}`, "scopes");
    } else if (input.kind !== "user" || !/^[^:\s]+:\S+$/.test(input.subject) || input.subject.length > 512) {
      throw new Invalid("expected kind 'user' with subject '<provider>:<sub>', or kind 'service'", "subject");
    }
    const ttl = input.ttlSeconds;
    if (!Number.isSafeInteger(ttl) || ttl < 60 || ttl * 1000 > MAX_CREDENTIAL_LIFETIME_MS)
      throw new Invalid("must be whole seconds from 60 to one year", "ttlSeconds");
    return [...new Set(input.scopes)];
  }

  async function index(subject: string, id: string): Promise<void> {
    const key = subjectKey(subject);
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await hotState.get(key);
      // The most recent keys only: expired ids linger here until they fall off the end.
      const ids = [...parseIds(raw), id].slice(-MAX_KEYS_PER_SUBJECT);
      if (await hotState.compareAndSet(key, raw, JSON.stringify(ids), MAX_CREDENTIAL_LIFETIME_MS)) return;
    }
    throw new Unavailable("the key index is changing too fast; try again");
  }

  async function get(id: string): Promise<ApiKey | undefined> {
    if (!ID.test(id)) return undefined;
    const record = parseRecord(await hotState.get(recordKey(id)));
    return record ? shown(record, await hotState.get(usedKey(id))) : undefined;
  }

  return {
    async create(input, by) {
      const scopes = checkNew(input);
      const now = clock.now().getTime();
      for (let attempt = 0; attempt < 5; attempt++) {
        const id = Array.from({ length: 8 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join("");
        const key = `rpk_${id}_${randomBytes(32).toString("base64url")}`;
        const record: StoredApiKey = {
          id,
          kind: input.kind,
          subject: input.subject,
          scopes,
          description: (input.description ?? "").slice(0, 500),
          createdAt: new Date(now).toISOString(),
          createdBy: by.id,
          expiresAt: new Date(now + input.ttlSeconds * 1000).toISOString(),
          hash: sha256(key).toString("hex"),
        };
        const ttlMs = input.ttlSeconds * 1000;
        if (!(await hotState.set(recordKey(id), JSON.stringify(record), { ttlMs, ifAbsent: true }))) continue;
        await index(record.subject, id);
        // A replica may have cached "no such key" for this id.
        await hotState.publish(CHANNEL, id).catch(() => {});
        audit("identity.api_key_created", by, record, "info");
        return { key, apiKey: shown(record, null) };
      }
      throw new Unavailable("could not allocate an API key id; try again");
    },

    async revoke(id, by) {
      if (!ID.test(id)) throw new NotFound("no such API key");
      for (let attempt = 0; attempt < 50; attempt++) {
        const raw = await hotState.get(recordKey(id));
        const record = parseRecord(raw);
        if (!record) throw new NotFound(`no API key ${id}`);
        if (record.revokedAt) return shown(record, null);
        const now = clock.now();
        const revoked = { ...record, revokedAt: now.toISOString(), revokedBy: by.id };
        const ttlMs = Math.max(1000, Date.parse(record.expiresAt) - now.getTime());
        if (!(await hotState.compareAndSet(recordKey(id), raw, JSON.stringify(revoked), ttlMs))) continue;
        cache.delete(id);
        await hotState.publish(CHANNEL, id).catch(() => {});
        audit("identity.api_key_revoked", by, revoked, "medium");
        return shown(revoked, null);
      }
      throw new Unavailable("the key is changing too fast; try again");
    },

    get,

    async list(subject) {
      const raw = await hotState.get(subjectKey(subject));
      const keys = await Promise.all(parseIds(raw).map(get));
      return keys.filter((k): k is ApiKey => k !== undefined && k.subject === subject);
    },

    async verifyApiKey(presented) {
      if (typeof presented !== "string" || !EXACT.test(presented)) return undefined;
      const id = presented.slice(4, 12);
      const record = await load(id);
      if (!record) return undefined;
      const stored = Buffer.from(record.hash, "hex");
      const given = sha256(presented);
      if (stored.length !== given.length || !timingSafeEqual(stored, given)) return undefined;
      const now = clock.now().getTime();
      if (record.revokedAt || Date.parse(record.expiresAt) <= now) return undefined;
      if (revocations.isRevoked(record.subject, Date.parse(record.createdAt))) return undefined;
      let roles: readonly string[] = [];
      let scopes = record.scopes;
      if (record.kind === "service") {
        const account = accounts.get(record.subject);
        if (!account) return undefined;
        roles = account.roles;
        scopes = scopes.filter((s) => account.scopes.includes(s));
      }
      if (now - (lastUsedWritten.get(id) ?? 0) >= LAST_USED_EVERY_MS) {
        lastUsedWritten.set(id, now);
        if (lastUsedWritten.size > cacheSize)
          lastUsedWritten.delete(lastUsedWritten.keys().next().value as string);
        // Off the request path: a lost write only makes "last used" a little older.
        const ttlMs = Math.max(1000, Date.parse(record.expiresAt) - now);
        hotState.set(usedKey(id), new Date(now).toISOString(), { ttlMs }).catch(() => {});
      }
      return {
        kind: record.kind,
        subject: record.subject,
        groups: [],
        roles,
        claims: { scope: scopes.join(" "), key_id: id },
        credential: "api-key",
      };
    },

    noteUse(id, ip, where) {
      const now = clock.now();
      const pair = `${id} ${ip}`;
      const last = usesReported.get(pair);
      if (last !== undefined && now.getTime() - last < LAST_USED_EVERY_MS) return;
      usesReported.delete(pair);
      usesReported.set(pair, now.getTime());
      if (usesReported.size > cacheSize) usesReported.delete(usesReported.keys().next().value as string);
      const subject = cache.get(id)?.record;
      emit(
        newEvent(
          {
            type: "identity.api_key_used",
            actor: subject ? { kind: subject.kind, id: subject.subject } : { kind: "api_key", id },
            target: { kind: "api_key", id },
            retention: "audit",
            data: { ip, ...(where ? { where } : {}) },
          },
          now,
        ),
      );
    },

    async start() {
      unsubscribe = await hotState.subscribe(CHANNEL, (id) => {
        cache.delete(id);
      });
    },

    async close() {
      await unsubscribe?.();
    },
  };
}

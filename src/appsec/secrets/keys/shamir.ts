// Shamir-split root key (Vault's unseal): `initShamir` makes a root key, splits it n-of-m and keeps
// only a check value; the store stays sealed until `threshold` shares combine into a key that matches it.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { combine, split } from "shamir-secret-sharing";
import { Conflict, Invalid } from "../../../platform/errors.ts";
import type { Store } from "../../../platform/store/index.ts";
import type { SecretsTables } from "../tables.ts";
import { asBuffer, localRootKey, ROOT_KEY_BYTES } from "./local.ts";
import type { RootKeyProvider } from "./types.ts";

const STATE = "shamir";
const PREFIX = "rss1";
// Stored value: 4-byte split id | HMAC-SHA256(root, CHECK_LABEL).
const SPLIT_ID = 4;
const CHECK_LABEL = "rampart:secrets:shamir-check";

export interface ShamirState {
  splitId: string;
  check: Buffer;
  shares: number;
  threshold: number;
}

export interface ShamirUnsealProgress {
  submitted: number;
  threshold: number;
}

/** The sealed provider plus the unseal step the service exposes. */
export interface ShamirRootKey extends RootKeyProvider {
  /** Null until `initShamir` ran. */
  state(): ShamirState | null;
  progress(): ShamirUnsealProgress;
  /** Adds one share; unseals when `threshold` shares combine into the right key. Refusals reset progress. */
  submit(share: string): Promise<ShamirUnsealProgress & { unsealed: boolean }>;
  /** Re-reads the split from the database (after `initShamir` in another process). */
  refresh(): Promise<void>;
}

const checkValue = (root: Uint8Array) => createHmac("sha256", root).update(CHECK_LABEL).digest();

/** One-time: makes the root key, stores its check value and returns the shares to hand out. */
export async function initShamir(
  store: Store,
  opts: { shares: number; threshold: number },
  now: Date = new Date(),
): Promise<{ shares: string[] }> {
  const { shares, threshold } = opts;
  if (!Number.isInteger(shares) || shares < 2 || shares > 255) {
    throw new Invalid("expected between 2 and 255 shares", "secrets.root.shares");
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > shares) {
    throw new Invalid(
      `expected a threshold between 2 and the number of shares (${shares})`,
      "secrets.root.threshold",
    );
  }
  const root = randomBytes(ROOT_KEY_BYTES);
  const splitId = randomBytes(SPLIT_ID);
  // Plain Uint8Arrays: the library checks instanceof, which a Buffer from another realm can fail.
  const secret = new Uint8Array(root);
  const parts = await split(secret, shares, threshold);
  secret.fill(0);
  const inserted = await store.db
    .withTables<SecretsTables>()
    .insertInto("secret_root_state")
    .values({
      name: STATE,
      value: Buffer.concat([splitId, checkValue(root)]),
      threshold,
      shares,
      created_at: now,
    })
    .onConflict((oc) => oc.column("name").doNothing())
    .returning("name")
    .executeTakeFirst();
  root.fill(0);
  if (!inserted) throw new Conflict("the secrets store's Shamir root key is already initialised");
  const id = splitId.toString("hex");
  return { shares: parts.map((p) => `${PREFIX}.${id}.${Buffer.from(p).toString("base64url")}`) };
}

/** Reads the split facts; null before `initShamir`. */
export async function readShamirState(store: Store): Promise<ShamirState | null> {
  const row = await store.db
    .withTables<SecretsTables>()
    .selectFrom("secret_root_state")
    .selectAll()
    .where("name", "=", STATE)
    .executeTakeFirst();
  if (!row) return null;
  const value = asBuffer(row.value);
  return {
    splitId: value.subarray(0, SPLIT_ID).toString("hex"),
    check: value.subarray(SPLIT_ID),
    shares: row.shares ?? 0,
    threshold: row.threshold ?? 0,
  };
}

/** A sealed provider for the split stored in `store`. */
export async function shamirRootKey(store: Store): Promise<ShamirRootKey> {
  let state = await readShamirState(store);
  let key: Buffer | undefined;
  let pending: Buffer[] = [];
  const base = localRootKey("shamir", () => key);
  const refuse = (message: string): never => {
    pending = [];
    throw new Invalid(`${message}; unseal progress reset`, "share");
  };
  return {
    ...base,
    state: () => state,
    progress: () => ({ submitted: pending.length, threshold: state?.threshold ?? 0 }),
    async refresh() {
      state = await readShamirState(store);
    },
    async submit(share) {
      if (!state) state = await readShamirState(store);
      if (!state)
        throw new Invalid(
          "the secrets store has no Shamir root key yet: run `rampart secrets init`",
          "share",
        );
      if (key) return { submitted: 0, threshold: state.threshold, unsealed: true };
      const m = /^rss1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)$/.exec(share.trim());
      if (!m) return refuse("not an unseal share (expected rss1.<split>.<base64url>)");
      if (m[1] !== state.splitId) return refuse("this share belongs to another split of another root key");
      const bytes = Buffer.from(m[2] as string, "base64url");
      if (bytes.length !== ROOT_KEY_BYTES + 1) return refuse("this share has the wrong length");
      // The last byte is the share's x coordinate: the same share twice adds nothing.
      if (pending.some((p) => p.at(-1) === bytes.at(-1))) {
        throw new Invalid("this share was already submitted", "share");
      }
      pending.push(bytes);
      if (pending.length < state.threshold) {
        return { submitted: pending.length, threshold: state.threshold, unsealed: false };
      }
      let combined: Buffer;
      try {
        combined = Buffer.from(await combine(pending.map((p) => new Uint8Array(p))));
      } catch {
        return refuse("the submitted shares cannot be combined");
      }
      const ok = timingSafeEqual(checkValue(combined), state.check);
      if (!ok) {
        combined.fill(0);
        return refuse("the submitted shares do not combine into this store's root key");
      }
      key = combined;
      pending = [];
      return { submitted: 0, threshold: state.threshold, unsealed: true };
    },
  };
}

// Dynamic blocks: addresses, ranges and countries blocked for a while (by an operator, or by an
// incident playbook) through the control plane, shared by every gateway replica through hot state.
// The list lives in one hot-state key, changed by compare-and-set; a change is announced on a
// channel, and every replica also re-reads the key on an interval, since pub/sub may drop a
// message. A replica checks its local copy, so the request path does no I/O, and keeps the last
// copy it read while hot state is down. Route lockdowns (lockdown.ts) share this design.
import ipaddr from "ipaddr.js";
import { Invalid, NotFound, Unavailable } from "../../platform/errors.ts";
import type { Clock } from "../../platform/clock.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { type CountryLookup, EU } from "./geo.ts";
import { inRanges, parseRange } from "./ip-rules.ts";

const KEY = "gateway:blocks";
const CHANNEL = "gateway:blocks";
// The whole list is one value that every replica re-reads, and ranges are checked one by one.
const MAX_BLOCKS = 10_000;
const MAX_TTL_SECONDS = 365 * 86_400;
const COUNTRY = "country:";

export interface IpBlock {
  /**
   * An address, a CIDR range or a country, normalized (`203.0.113.7`, `2001:db8::/32`,
   * `country:RU`; `country:EU` stands for the 27 member states, as in geo rules).
   */
  target: string;
  /** Why, for the people who read the list and the audit log. */
  reason: string;
  /** Who set it (an operator's token name, or a playbook). */
  by: string;
  createdAt: string;
  expiresAt: string;
}

/** Whether a block's target is a country (`country:XX`) rather than an address or range. */
export const isCountryTarget = (target: string): boolean => target.startsWith(COUNTRY);

/** Parses `text` as an address, CIDR range or `country:XX` and returns its canonical form, or throws Invalid. */
export function normalizeTarget(text: string): string {
  if (/^country:/i.test(text)) {
    const code = text.slice(COUNTRY.length).toUpperCase();
    // ISO 3166-1 alpha-2, what the country database answers with (and EU, as geo rules allow).
    if (!/^[A-Z]{2}$/.test(code))
      throw new Invalid("expected country:XX with an ISO 3166-1 alpha-2 code, e.g. country:RU", "target");
    return `${COUNTRY}${code}`;
  }
  try {
    if (text.includes("/")) {
      const [net, bits] = ipaddr.parseCIDR(text);
      // Clients are matched as IPv4 when they arrive IPv4-mapped: so must ranges be.
      if (net.kind() === "ipv6" && (net as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
        return normalizeTarget(`${(net as ipaddr.IPv6).toIPv4Address().toString()}/${bits - 96}`);
      // The network address, so 10.1.2.3/8 and 10.0.0.0/8 are the same block.
      const first =
        net.kind() === "ipv4"
          ? ipaddr.IPv4.networkAddressFromCIDR(text)
          : ipaddr.IPv6.networkAddressFromCIDR(text);
      return `${first.toString()}/${bits}`;
    }
    return ipaddr.process(text).toString();
  } catch {
    throw new Invalid(
      "expected an IP address or CIDR range, e.g. 203.0.113.7 or 2001:db8::/32, or a country, e.g. country:RU",
      "target",
    );
  }
}

/** An entry of a shared list: it stops counting at `expiresAt`. */
export interface Expiring {
  expiresAt: string;
}

function parseList<T>(raw: string | null): T[] {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    return Array.isArray(list) ? (list as T[]) : [];
  } catch {
    return [];
  }
}

function live<T extends Expiring>(list: T[], now: number): T[] {
  return list.filter((b) => Date.parse(b.expiresAt) > now);
}

/** The writer's side of a list of expiring entries kept in one hot-state key. */
export interface SharedList<T extends Expiring> {
  /** Applies `edit` to the live entries by compare-and-set, then announces the change. */
  change(edit: (list: T[], now: number) => T[]): Promise<void>;
  /** The live entries. */
  read(): Promise<T[]>;
}

/** A list of expiring entries in hot state under `key`, announced on `channel` when it changes. */
export function sharedList<T extends Expiring>(
  hot: HotState,
  o: { key: string; channel: string; clock: Clock; what: string },
): SharedList<T> {
  return {
    // Compare-and-set until no other writer got in between.
    async change(edit) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const raw = await hot.get(o.key);
        const now = o.clock.now().getTime();
        const next = edit(live(parseList<T>(raw), now), now);
        const latest = next.reduce((m, b) => Math.max(m, Date.parse(b.expiresAt)), now + 1000);
        const value = next.length > 0 ? JSON.stringify(next) : null;
        if (await hot.compareAndSet(o.key, raw, value, latest - now)) {
          await hot.publish(o.channel, "changed").catch(() => {});
          return;
        }
      }
      throw new Unavailable(`the ${o.what} is changing too fast; try again`);
    },
    async read() {
      return live(parseList<T>(await hot.get(o.key)), o.clock.now().getTime());
    },
  };
}

/** A reader's local copy of a shared list, kept fresh. */
export interface SharedListWatch {
  /** Re-reads the list now (also runs on every announcement and every `refreshMs`). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads the list under `key` now, on every announcement on `channel` and every `refreshMs`, and
 * hands the live entries to `apply`; `prepare` runs first and may await (apply must not).
 */
export async function watchSharedList<T extends Expiring>(
  hot: HotState,
  o: {
    key: string;
    channel: string;
    clock: Clock;
    what: string;
    refreshMs?: number | undefined;
    logger?: Logger | undefined;
    prepare?: (list: T[]) => Promise<void>;
    apply: (list: T[]) => void;
  },
): Promise<SharedListWatch> {
  let failing = false;
  // Reads may overlap (an announcement during the interval's read): only a newer one may apply.
  let started = 0;
  let applied = 0;
  async function refresh(): Promise<void> {
    const mine = ++started;
    try {
      const raw = await hot.get(o.key);
      const list = live(parseList<T>(raw), o.clock.now().getTime());
      await o.prepare?.(list);
      if (mine < applied) return;
      applied = mine;
      o.apply(list);
      if (failing) o.logger?.info(`${o.what}: hot state answers again`);
      failing = false;
    } catch (err) {
      // Keep the last list read: a Redis outage must not lift every entry.
      if (!failing)
        o.logger?.warn(
          { err: (err as Error).message },
          `${o.what}: hot state unavailable; keeping last list`,
        );
      failing = true;
    }
  }
  await refresh();
  let unsubscribe: (() => Promise<void>) | undefined;
  try {
    unsubscribe = await hot.subscribe(o.channel, () => void refresh());
  } catch {
    // Without a subscription the interval still picks up changes.
  }
  const timer = setInterval(() => void refresh(), o.refreshMs ?? 5000);
  timer.unref();
  return {
    refresh,
    async close() {
      clearInterval(timer);
      await unsubscribe?.().catch(() => {});
    },
  };
}

/** The control plane's side: add, remove and list blocks. */
export interface BlockList {
  add(b: { target: string; ttlSeconds: number; reason: string; by: string }): Promise<IpBlock>;
  /** Removes the block on `target`; NotFound when there is none. */
  remove(target: string): Promise<IpBlock>;
  list(): Promise<IpBlock[]>;
}

export function createBlockList(hot: HotState, o: { clock: Clock }): BlockList {
  const shared = sharedList<IpBlock>(hot, { key: KEY, channel: CHANNEL, clock: o.clock, what: "block list" });

  return {
    async add({ target, ttlSeconds, reason, by }) {
      const t = normalizeTarget(target);
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
        throw new Invalid(`must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`, "ttlSeconds");
      let block: IpBlock | undefined;
      await shared.change((list, now) => {
        if (list.length >= MAX_BLOCKS && !list.some((b) => b.target === t))
          throw new Invalid(`the block list is full (${MAX_BLOCKS} entries)`, "target");
        block = {
          target: t,
          reason,
          by,
          createdAt: new Date(now).toISOString(),
          expiresAt: new Date(now + ttlSeconds * 1000).toISOString(),
        };
        // Setting a block again replaces it (a new expiry and reason).
        return [...list.filter((b) => b.target !== t), block];
      });
      return block as IpBlock;
    },
    async remove(target) {
      const t = normalizeTarget(target);
      let removed: IpBlock | undefined;
      await shared.change((list) => {
        removed = list.find((b) => b.target === t);
        if (!removed) throw new NotFound(`no block on ${t}`);
        return list.filter((b) => b !== removed);
      });
      return removed as IpBlock;
    },
    list: shared.read,
  };
}

/** A gateway's side: a local copy of the live blocks, kept fresh. */
export interface BlockWatch {
  /** The block that covers `client`'s address, if any (local lookup, no I/O). */
  blocking(client: string): IpBlock | undefined;
  /** Whether some country is blocked: only then is a client's country worth looking up. */
  blocksCountries(): boolean;
  /** The block on `country` (ISO 3166-1 alpha-2), if any. */
  blockingCountry(country: string | undefined): IpBlock | undefined;
  /** The country database, once a country block has made the watch open it. */
  countryLookup(): CountryLookup | undefined;
  /** Re-reads the list now (also runs on every announcement and every `refreshMs`). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export async function watchBlocks(
  hot: HotState,
  o: {
    clock: Clock;
    refreshMs?: number;
    logger?: Logger | undefined;
    /**
     * Opens the country database; called when the first country block is read, and before that
     * list applies, so a country block in force always has a lookup. Without it (or while it
     * fails), country blocks are not enforced.
     */
    openCountries?: (() => Promise<CountryLookup>) | undefined;
  },
): Promise<BlockWatch> {
  let exact = new Map<string, IpBlock>();
  let ranges: { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; block: IpBlock }[] = [];
  let countries = new Map<string, { block: IpBlock; until: number }>();
  let lookup: CountryLookup | undefined;
  let lookupFailed = false;
  // Overlapping reads (an announcement during a refresh) share one opening.
  let opening: Promise<CountryLookup> | undefined;
  const openCountries = o.openCountries;
  const watch = await watchSharedList<IpBlock>(hot, {
    key: KEY,
    channel: CHANNEL,
    clock: o.clock,
    what: "dynamic blocks",
    refreshMs: o.refreshMs,
    logger: o.logger,
    async prepare(list) {
      if (lookup || !openCountries || !list.some((b) => isCountryTarget(b.target))) return;
      try {
        opening ??= openCountries();
        lookup = await opening;
        lookupFailed = false;
      } catch (err) {
        opening = undefined;
        // Address blocks still apply; the next read tries the database again.
        if (!lookupFailed)
          o.logger?.error(
            { err: (err as Error).message },
            "dynamic blocks: the country database did not open; country blocks are not enforced",
          );
        lookupFailed = true;
      }
    },
    apply(list) {
      const addresses = list.filter((b) => !isCountryTarget(b.target));
      exact = new Map(addresses.filter((b) => !b.target.includes("/")).map((b) => [b.target, b]));
      ranges = addresses
        .filter((b) => b.target.includes("/"))
        .map((b) => ({ range: parseRange(b.target), block: b }));
      const byCountry = new Map<string, { block: IpBlock; until: number }>();
      if (lookup)
        for (const b of list) {
          if (!isCountryTarget(b.target)) continue;
          const code = b.target.slice(COUNTRY.length);
          const entry = { block: b, until: Date.parse(b.expiresAt) };
          for (const c of code === "EU" ? EU : [code]) {
            // A country named itself and through EU: the later expiry holds.
            const prior = byCountry.get(c);
            if (!prior || prior.until < entry.until) byCountry.set(c, entry);
          }
        }
      countries = byCountry;
    },
  });
  return {
    blocking(client) {
      if (exact.size === 0 && ranges.length === 0) return undefined;
      const now = o.clock.now().getTime();
      const hit = exact.get(client);
      if (hit && Date.parse(hit.expiresAt) > now) return hit;
      if (ranges.length === 0 || !ipaddr.isValid(client)) return undefined;
      const ip = ipaddr.process(client);
      for (const r of ranges)
        if (inRanges(ip, [r.range]) && Date.parse(r.block.expiresAt) > now) return r.block;
      return undefined;
    },
    blocksCountries: () => countries.size > 0,
    blockingCountry(country) {
      if (country === undefined || countries.size === 0) return undefined;
      const hit = countries.get(country);
      return hit && hit.until > o.clock.now().getTime() ? hit.block : undefined;
    },
    countryLookup: () => lookup,
    refresh: watch.refresh,
    close: watch.close,
  };
}

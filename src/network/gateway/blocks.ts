// Dynamic IP blocks: addresses and ranges blocked for a while (by an operator, or later by an
// incident playbook) through the control plane, shared by every gateway replica through hot state.
// The list lives in one hot-state key, changed by compare-and-set; a change is announced on a
// channel, and every replica also re-reads the key on an interval, since pub/sub may drop a
// message. A replica checks its local copy, so the request path does no I/O, and keeps the last
// copy it read while hot state is down.
import ipaddr from "ipaddr.js";
import { Invalid, NotFound, Unavailable } from "../../platform/errors.ts";
import type { Clock } from "../../platform/clock.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import type { Logger } from "../../platform/logging.ts";
import { inRanges } from "./ip-rules.ts";

const KEY = "gateway:blocks";
const CHANNEL = "gateway:blocks";
// The whole list is one value that every replica re-reads, and ranges are checked one by one.
const MAX_BLOCKS = 10_000;
const MAX_TTL_SECONDS = 365 * 86_400;

export interface IpBlock {
  /** An address or a CIDR range, normalized (`203.0.113.7`, `2001:db8::/32`). */
  target: string;
  /** Why, for the people who read the list and the audit log. */
  reason: string;
  /** Who set it (an operator's token name, or a playbook). */
  by: string;
  createdAt: string;
  expiresAt: string;
}

/** Parses `text` as an address or CIDR range and returns its canonical form, or throws Invalid. */
export function normalizeTarget(text: string): string {
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
    throw new Invalid("expected an IP address or CIDR range, e.g. 203.0.113.7 or 2001:db8::/32", "target");
  }
}

function parseList(raw: string | null): IpBlock[] {
  if (!raw) return [];
  try {
    const list = JSON.parse(raw) as unknown;
    return Array.isArray(list) ? (list as IpBlock[]) : [];
  } catch {
    return [];
  }
}

function live(list: IpBlock[], now: number): IpBlock[] {
  return list.filter((b) => Date.parse(b.expiresAt) > now);
}

/** The control plane's side: add, remove and list blocks. */
export interface BlockList {
  add(b: { target: string; ttlSeconds: number; reason: string; by: string }): Promise<IpBlock>;
  /** Removes the block on `target`; NotFound when there is none. */
  remove(target: string): Promise<IpBlock>;
  list(): Promise<IpBlock[]>;
}

export function createBlockList(hot: HotState, o: { clock: Clock }): BlockList {
  // Compare-and-set until no other writer got in between.
  async function change(edit: (list: IpBlock[], now: number) => IpBlock[]): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const raw = await hot.get(KEY);
      const now = o.clock.now().getTime();
      const next = edit(live(parseList(raw), now), now);
      const latest = next.reduce((m, b) => Math.max(m, Date.parse(b.expiresAt)), now + 1000);
      const value = next.length > 0 ? JSON.stringify(next) : null;
      if (await hot.compareAndSet(KEY, raw, value, latest - now)) {
        await hot.publish(CHANNEL, "changed").catch(() => {});
        return;
      }
    }
    throw new Unavailable("the block list is changing too fast; try again");
  }

  return {
    async add({ target, ttlSeconds, reason, by }) {
      const t = normalizeTarget(target);
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS)
        throw new Invalid(`must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`, "ttlSeconds");
      let block: IpBlock | undefined;
      await change((list, now) => {
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
      await change((list) => {
        removed = list.find((b) => b.target === t);
        if (!removed) throw new NotFound(`no block on ${t}`);
        return list.filter((b) => b !== removed);
      });
      return removed as IpBlock;
    },
    async list() {
      return live(parseList(await hot.get(KEY)), o.clock.now().getTime());
    },
  };
}

/** A gateway's side: a local copy of the live blocks, kept fresh. */
export interface BlockWatch {
  /** The block that covers `client`, if any (local lookup, no I/O). */
  blocking(client: string): IpBlock | undefined;
  /** Re-reads the list now (also runs on every announcement and every `refreshMs`). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

export async function watchBlocks(
  hot: HotState,
  o: { clock: Clock; refreshMs?: number; logger?: Logger | undefined },
): Promise<BlockWatch> {
  let exact = new Map<string, IpBlock>();
  let ranges: { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; block: IpBlock }[] = [];
  let failing = false;
  // Reads may overlap (an announcement during the interval's read): only a newer one may apply.
  let started = 0;
  let applied = 0;
  async function refresh(): Promise<void> {
    const mine = ++started;
    try {
      const raw = await hot.get(KEY);
      if (mine < applied) return;
      applied = mine;
      const list = live(parseList(raw), o.clock.now().getTime());
      exact = new Map(list.filter((b) => !b.target.includes("/")).map((b) => [b.target, b]));
      ranges = list
        .filter((b) => b.target.includes("/"))
        .map((b) => ({ range: ipaddr.parseCIDR(b.target), block: b }));
      if (failing) o.logger?.info("dynamic blocks: hot state answers again");
      failing = false;
    } catch (err) {
      // Keep the last list read: a Redis outage must not lift every block.
      if (!failing)
        o.logger?.warn(
          { err: (err as Error).message },
          "dynamic blocks: hot state unavailable; keeping last list",
        );
      failing = true;
    }
  }
  await refresh();
  let unsubscribe: (() => Promise<void>) | undefined;
  try {
    unsubscribe = await hot.subscribe(CHANNEL, () => void refresh());
  } catch {
    // Without a subscription the interval still picks up changes.
  }
  const timer = setInterval(() => void refresh(), o.refreshMs ?? 5000);
  timer.unref();
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
    refresh,
    async close() {
      clearInterval(timer);
      await unsubscribe?.().catch(() => {});
    },
  };
}

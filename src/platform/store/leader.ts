// One server of a deployment leads the scheduled jobs (compliance cycles, retention runs, audit
// verification...), chosen by a session-level PostgreSQL advisory lock held on a connection of its
// own. The lock goes with the session: a leader that crashes or loses the database frees it, and
// another server takes it at its next try.
//
// A leader checks its session every `checkMs` and steps down as soon as a check fails or takes
// longer than `checkMs`. The session is told to end itself after `3 × checkMs` without a statement
// (`idle_session_timeout`), so a leader that froze or lost its network frees the lock on the
// server's side too, after it has already stopped leading on its own: no two servers lead at once.
import pg from "pg";
import type { Logger } from "../logging.ts";

export interface Leadership {
  /** Whether this server runs the scheduled jobs now. */
  readonly leading: boolean;
  /** Called on every change, with the new state. */
  onChange(listener: (leading: boolean) => void): void;
  /** Steps down (freeing the lock at once) and stops trying. */
  close(): Promise<void>;
}

export interface LeaderElectionOptions {
  /** PostgreSQL URL; without one (embedded PGlite, one process) this server always leads. */
  url?: string | undefined;
  /** What is being led; servers electing under one name share one lock. */
  name: string;
  /** This server, as logs name it. */
  id: string;
  logger?: Logger;
  /** How often a follower tries the lock and a leader checks it still holds it (default 2 s). */
  checkMs?: number;
}

/** The lock's 64-bit key: stable for a name across servers and versions. */
const lockKey = (name: string) => `hashtextextended('rampart:leader:' || ${pg.escapeLiteral(name)}, 0)`;

export async function electLeader(o: LeaderElectionOptions): Promise<Leadership> {
  const listeners: Array<(leading: boolean) => void> = [];
  if (!o.url) {
    return { leading: true, onChange: (l) => void listeners.push(l), close: async () => {} };
  }
  const url = o.url;
  const checkMs = o.checkMs ?? 2000;
  let client: pg.Client | undefined;
  let leading = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const set = (next: boolean, why: string) => {
    if (next === leading) return;
    leading = next;
    o.logger?.[next ? "info" : "warn"]({ server: o.id, lock: o.name }, why);
    for (const l of listeners) l(next);
  };
  const drop = (why: string) => {
    const c = client;
    client = undefined;
    c?.end().catch(() => {});
    set(false, why);
  };

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: checkMs,
      query_timeout: checkMs,
      keepAlive: true,
      application_name: `rampart leader election (${o.id})`,
    });
    c.on("error", () => client === c && drop("lost the database session: no longer leading scheduled jobs"));
    c.on("end", () => client === c && drop("the database session ended: no longer leading scheduled jobs"));
    await c.connect();
    // PostgreSQL 14+: a session that says nothing for three checks is ended by the server.
    await c.query(`SET idle_session_timeout = ${3 * checkMs}`).catch(() => {});
    return c;
  }

  async function attempt(): Promise<void> {
    try {
      client ??= await connect();
      if (leading) {
        await client.query("select 1");
        return;
      }
      const r = await client.query<{ ok: boolean }>(`select pg_try_advisory_lock(${lockKey(o.name)}) as ok`);
      if (r.rows[0]?.ok) set(true, "leading scheduled jobs");
    } catch (err) {
      if (client || leading)
        drop(`leader election check failed (${(err as Error).message}): no longer leading scheduled jobs`);
    }
  }

  const loop = () => {
    if (closed) return;
    running = attempt().finally(() => {
      running = undefined;
      if (!closed) timer = setTimeout(loop, checkMs).unref();
    });
  };
  loop();
  await running;

  return {
    get leading() {
      return leading;
    },
    onChange: (l) => void listeners.push(l),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
      const c = client;
      client = undefined;
      if (c) await c.end().catch(() => {});
      set(false, "stopped leading scheduled jobs");
    },
  };
}

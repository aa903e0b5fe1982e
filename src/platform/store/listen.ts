// LISTEN on PostgreSQL over one dedicated connection (not from the pool), reconnected with a bounded
// backoff, for caches that other servers' NOTIFYs keep coherent.
import pg from "pg";

export interface ListenHandlers {
  /** Each notification's payload on the channel, in the order PostgreSQL delivers them. */
  onNotify(payload: string): void;
  /**
   * Notifications may have been missed: called with `false` when the connection errors or ends,
   * and with `true` once LISTEN is in place again (the first time too).
   */
  onReset(listening: boolean): void;
}

export interface Listener {
  /** Whether LISTEN is in place now. */
  readonly listening: boolean;
  close(): Promise<void>;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/** Starts listening; resolves after the first attempt to connect, whether it succeeded or not. */
export async function listenPostgres(url: string, channel: string, h: ListenHandlers): Promise<Listener> {
  let client: pg.Client | undefined;
  let listening = false;
  let closed = false;
  let retryMs = FIRST_RETRY_MS;
  let timer: NodeJS.Timeout | undefined;

  // Called once per client, however it fails (error event, end event or a rejected connect).
  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = undefined;
    c.end().catch(() => {});
    if (listening) {
      listening = false;
      h.onReset(false);
    }
    if (!closed) {
      timer = setTimeout(() => void connect(), retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  };

  async function connect(): Promise<void> {
    timer = undefined;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, keepAlive: true });
    client = c;
    c.on("error", () => lost(c));
    c.on("end", () => lost(c));
    c.on("notification", (n) => {
      if (client === c && n.channel === channel) h.onNotify(n.payload ?? "");
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch {
      lost(c);
      return;
    }
    if (client !== c) return;
    listening = true;
    retryMs = FIRST_RETRY_MS;
    h.onReset(true);
  }

  await connect();
  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      listening = false;
      clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

// Both storage backends, for suites that must pass on each: embedded PGlite and real PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Migration } from "kysely/migration";
import { inject } from "vitest";
import { openStore, type Store } from "../../src/platform/store/index.ts";
import { freshDatabase } from "./pg.ts";

export interface TestStore {
  store: Store;
  /** Database URL (PostgreSQL) or data directory (PGlite), to reopen the same store. */
  location: { url?: string; dataDir: string };
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

export const backends = ["pglite", "postgres"] as const;
export type Backend = (typeof backends)[number];

export async function openTestStore(
  kind: Backend,
  migrations: Record<string, Migration>,
): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), "rampart-store-"));
  const db = kind === "postgres" ? await freshDatabase(inject("pgUrl")) : undefined;
  const location = { ...(db ? { url: db.url } : {}), dataDir };
  const opened: Store[] = [];
  const open = async () => {
    const s = await openStore({ ...location, migrations });
    opened.push(s);
    return s;
  };
  return {
    store: await open(),
    location,
    reopen: open,
    async cleanup() {
      for (const s of opened) await s.close().catch(() => {});
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

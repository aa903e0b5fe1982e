// The benchmark's server process: Rampart's real control plane (runtime + API, audit log on) from
// a config file, plus one bench-only route, the anchor: the same caller check and the same row
// read from the same store, answered as stored (ciphertext, no decryption, no policy, no audit).
// Usage: node bench/secrets/server.ts <config.yaml> <port>
import { sql } from "kysely";
import { loadConfig } from "../../src/config/index.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { buildApp, startRuntime } from "../../src/server/index.ts";

const [configPath, port] = process.argv.slice(2);
if (!configPath || !port) throw new Error("usage: server.ts <config.yaml> <port>");
const config = await loadConfig(configPath);
const runtime = await startRuntime({ config, logger: createLogger({ level: "error" }) });
const app = await buildApp(runtime);
const db = runtime.store.db;

app.get("/bench/plain/*", async (req) => {
  await runtime.identity.callers.authenticate(req);
  const path = `/${(req.params as { "*": string })["*"]}`;
  const { rows } = await sql<{ version: number; ciphertext: Buffer; created_at: Date }>`
    select v.version, v.ciphertext, v.created_at
      from secret_paths p join secret_versions v on v.path = p.path and v.version = p.current_version
     where p.path = ${path}`.execute(db);
  const row = rows[0];
  if (!row) throw new Error(`no row for ${path}`);
  return { path, version: row.version, createdAt: row.created_at, data: row.ciphertext.toString("base64") };
});

await app.listen({ host: "127.0.0.1", port: Number(port) });
process.stdout.write("ready\n");
const stop = async () => {
  await app.close();
  await runtime.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());

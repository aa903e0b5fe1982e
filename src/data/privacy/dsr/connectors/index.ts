// Store connectors for data-subject requests: one per configured connection, opened on first use.
import { Invalid } from "../../../../platform/errors.ts";
import type { ConnectionConfig, Connector } from "../types.ts";
import { elasticsearchConnector } from "./elasticsearch.ts";
import { mongodbConnector } from "./mongodb.ts";
import { mysqlConnector } from "./mysql.ts";
import { postgresConnector } from "./postgres.ts";
import { redisConnector } from "./redis.ts";

export { connectionConfigSchema, type DsrConnectionsConfig, dsrConnectionsConfigSchema } from "./config.ts";
export { elasticsearchConnector } from "./elasticsearch.ts";
export { mongodbConnector } from "./mongodb.ts";
export { mysqlConnector } from "./mysql.ts";
export { postgresConnector } from "./postgres.ts";
export { parseKeyTemplate, redisConnector } from "./redis.ts";

/** A connector for one connection; drivers connect lazily, so this does no I/O. */
export async function openConnector(config: ConnectionConfig): Promise<Connector> {
  return createConnector(config);
}

/** The synchronous form of openConnector (every driver here connects on first use). */
export function createConnector(config: ConnectionConfig): Connector {
  const opts = { url: config.url, ...(config.options ? { options: config.options } : {}) };
  switch (config.type) {
    case "postgres":
      return postgresConnector(opts);
    case "mysql":
      return mysqlConnector(opts);
    case "redis":
      return redisConnector(opts);
    case "mongodb":
      return mongodbConnector(opts);
    case "elasticsearch":
      return elasticsearchConnector(opts);
    default:
      throw new Invalid(
        `unknown store type '${String((config as { type: unknown }).type)}'`,
        "privacy.connections",
      );
  }
}

export interface ConnectorRegistry {
  /** The connector of the connection that holds `datasetKey`; Invalid when none does. */
  connectorFor(datasetKey: string): Connector;
  /** Closes every connector opened so far. */
  close(): Promise<void>;
}

/** Connectors by dataset, each connection opened once, on first use. */
export function createConnectorRegistry(
  connections: Record<string, ConnectionConfig>,
  open: (config: ConnectionConfig) => Connector = createConnector,
): ConnectorRegistry {
  const byDataset = new Map<string, string>();
  for (const [name, c] of Object.entries(connections))
    for (const d of c.datasets) {
      const prev = byDataset.get(d);
      if (prev && prev !== name)
        throw new Invalid(
          `dataset '${d}' is served by both '${prev}' and '${name}'`,
          `privacy.connections.${name}`,
        );
      byDataset.set(d, name);
    }
  const opened = new Map<string, Connector>();
  let closed = false;
  return {
    connectorFor(datasetKey) {
      if (closed) throw new Invalid("the connector registry is closed");
      const name = byDataset.get(datasetKey);
      const config = name ? connections[name] : undefined;
      if (!name || !config)
        throw new Invalid(
          `no connection in privacy.connections lists dataset '${datasetKey}'`,
          "privacy.connections",
        );
      let c = opened.get(name);
      if (!c) {
        c = open(config);
        opened.set(name, c);
      }
      return c;
    },
    async close() {
      closed = true;
      const all = [...opened.values()];
      opened.clear();
      await Promise.all(all.map((c) => c.close().catch(() => {})));
    },
  };
}

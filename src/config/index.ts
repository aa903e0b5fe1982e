// Policy as code: the `rampart.yaml` schema, loading with file:line:column errors, hot reload.
export { ConfigError, type ConfigIssue, formatConfigIssue } from "./errors.ts";
export {
  type ConfigEnv,
  type LoadConfigOptions,
  loadConfig,
  loadConfigStaged,
  type ParseConfigOptions,
  parseConfig,
  type ReadTextFile,
  type SecretResolver,
} from "./load.ts";
export {
  type AuditConfig,
  auditConfigSchema,
  type DatabaseConfig,
  databaseConfigSchema,
  defaultConfig,
  type Environment,
  type EventsConfig,
  environmentSchema,
  eventsConfigSchema,
  gatewayConfigSchema,
  type HotStateConfig,
  hotStateConfigSchema,
  type IngestToken,
  ingestTokenSchema,
  type RampartConfig,
  type RouteConfig,
  type GatewayConfig,
  rampartConfigSchema,
  routeConfigSchema,
  routeId,
  type ServerConfig,
  serverConfigSchema,
} from "./schema.ts";
export {
  type ConfigReloadResult,
  type ConfigWatcher,
  type ConfigWatcherOptions,
  createConfigWatcher,
} from "./watch.ts";

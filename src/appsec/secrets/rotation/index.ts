// Secret rotation: rotators for PostgreSQL, MySQL/MariaDB, Redis ACL users and random tokens, and
// the scheduler that runs them from the `secrets.rotation` config.
export { consumerUrl, newPassword } from "./credentials.ts";
export { mysqlRotator } from "./mysql.ts";
export { postgresRotator } from "./postgres.ts";
export { randomTokenRotator } from "./random.ts";
export { redisRotator } from "./redis.ts";
export {
  createRotationScheduler,
  type RotationOutcome,
  type RotationReport,
  type RotationScheduler,
  type RotationSchedulerOptions,
  rotatorFor,
} from "./scheduler.ts";
export { rotationMigrations, type RotationTables } from "./tables.ts";
export type { CredentialData, RotationSecrets, Rotator } from "./types.ts";

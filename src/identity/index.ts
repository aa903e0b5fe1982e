// Layer 2, identity and access: what the gateway and the server use of it.
export {
  BACKCHANNEL_LOGOUT_PATH,
  CALLBACK_PATH,
  createGatewayAccess,
  type AccessContext,
  type AccessOutcome,
  type GatewayAccess,
  LOGOUT_PATH,
  type RouteIdentity,
} from "./access.ts";
export { stripRampartCookies } from "./sessions/index.ts";
export type { RbacConfig } from "./rbac/index.ts";
export { type IdentityConfig, identityConfigSchema, type RouteAuth } from "./schema.ts";
export type { AccessRequest, ClientCertificate, Credential, Identity } from "./types.ts";

// Layer 2, identity and access: what the gateway and the server use of it.
export {
  type AccessContext,
  type AccessOutcome,
  createGatewayAccess,
  type GatewayAccess,
  type RouteIdentity,
} from "./access.ts";
export { BACKCHANNEL_LOGOUT_PATH, CALLBACK_PATH, LOGOUT_PATH } from "./endpoints.ts";
export type { RbacConfig } from "./rbac/index.ts";
export { type IdentityConfig, identityConfigSchema, type RouteAuth } from "./schema.ts";
export { stripRampartCookies } from "./sessions/index.ts";
export type { AccessRequest, ClientCertificate, Credential, Identity } from "./types.ts";

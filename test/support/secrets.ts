// Callers of the secrets store as tests build them: a person or a service with groups and roles.
import type { SecretsCaller } from "../../src/appsec/secrets/index.ts";
import type { Identity } from "../../src/identity/types.ts";

/** An identity as the identity layer hands it over (users signed in, services by API key). */
export function identityOf(
  kind: "user" | "service",
  subject: string,
  groups: string[] = [],
  roles: string[] = [],
): Identity {
  return {
    kind,
    subject,
    groups,
    roles,
    claims: {},
    credential: kind === "user" ? "session" : "api-key",
  };
}

/** A caller whose events name it by its subject. */
export function callerOf(
  kind: "user" | "service",
  subject: string,
  groups: string[] = [],
  roles: string[] = [],
): SecretsCaller {
  return { identity: identityOf(kind, subject, groups, roles), actor: { kind, id: subject } };
}

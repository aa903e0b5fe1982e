// Production protection: on routes tagged `environment: prod`, people have no standing access
// (their RBAC roles do not count) unless the route says `standingAccess: true`; they get in only
// through a JIT grant in force for that route or for the prod environment. Machines are unaffected.
import type { Identity } from "../types.ts";
import type { ActiveGrant } from "./grants.ts";

export const PRODUCTION = "prod";

/** Whether the identity's standing roles count on a route of `routeEnvironment`. */
export function standingAccessAllowed(
  routeEnvironment: string | undefined,
  identity: Pick<Identity, "kind">,
  route: { standingAccess?: boolean | undefined },
): boolean {
  return identity.kind === "service" || routeEnvironment !== PRODUCTION || route.standingAccess === true;
}

/** The grants that apply to a route at `now`: granted for the route itself or for its environment. */
export function grantsForRoute(
  grants: readonly ActiveGrant[],
  route: { id: string; environment?: string | undefined },
  now: Date,
): ActiveGrant[] {
  const t = now.getTime();
  return grants.filter(
    (g) =>
      g.ends.getTime() > t &&
      (g.scope.kind === "route"
        ? g.scope.id === route.id
        : route.environment !== undefined && g.scope.id === route.environment),
  );
}

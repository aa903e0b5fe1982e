// Test support (not exported from index.ts): one deployment's service-auth parts wired together
// over a given hot state, with events collected.
import type { Clock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import { createTokenKeys } from "../tokens/index.ts";
import { createServiceAccounts, hashClientSecret } from "./accounts.ts";
import { createAccessTokens } from "./access-tokens.ts";
import { createApiKeys } from "./api-keys.ts";
import { createClientLockout } from "./lockout.ts";
import { createRevocations } from "./revocations.ts";
import { createTokenEndpoint } from "./token-endpoint.ts";

export const SECRET = "a deployment secret of at least 32 bytes, from config";
export const BILLING_SECRET = "billing-client-secret-0123456789abcdefghijkl";
export const ISSUER = "https://gw.example";

export function billingAccounts(secrets: string[] = [BILLING_SECRET]) {
  return createServiceAccounts([
    {
      name: "billing",
      description: "billing worker",
      roles: ["billing-writer"],
      scopes: ["invoices:read", "invoices:write"],
      secretHashes: secrets.map(hashClientSecret),
    },
  ]);
}

/** A replica's parts; `accounts` defaults to the billing account. */
export async function replica(hotState: HotState, clock: Clock, accounts = billingAccounts()) {
  const events: SecurityEvent[] = [];
  const emit = (e: SecurityEvent) => {
    events.push(e);
  };
  const keys = createTokenKeys({ secret: SECRET, clock });
  const revocations = createRevocations({ hotState, clock, emit, refreshMs: 200 });
  await revocations.start();
  const accessTokens = createAccessTokens({ keys, clock, issuer: ISSUER, accounts, revocations });
  const lockout = createClientLockout({ hotState, clock, emit });
  const endpoint = createTokenEndpoint({ accounts, accessTokens, lockout, clock, emit });
  const apiKeys = createApiKeys({ hotState, clock, emit, accounts, revocations });
  await apiKeys.start();
  return {
    events,
    keys,
    revocations,
    accessTokens,
    endpoint,
    apiKeys,
    close: async () => {
      await revocations.close();
      await apiKeys.close();
    },
  };
}

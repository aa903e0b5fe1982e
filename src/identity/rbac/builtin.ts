// The roles every deployment has. Actions are `<area>[:<thing>]:<verb>`; `secrets:read` reveals
// secret values and `secrets:list` only their names and metadata, which is why roles that read
// "everything" refuse `secrets:read` explicitly.
import type { Role } from "./schema.ts";

export const BUILT_IN_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  admin: {
    description: "everything, including RBAC itself",
    permissions: ["**"],
  },
  "security-admin": {
    description: "security configuration, blocks, WAF, secrets policy, incidents; not RBAC itself",
    permissions: [
      "**:read",
      "audit:verify",
      "gateway:**",
      "policy:**",
      "identity:**",
      "jit:**",
      "secrets:list",
      "secrets:policy:**",
      "incidents:**",
      "detect:**",
      "alerts:**",
      "playbooks:**",
      "siem:**",
      "scans:**",
      "compliance:**",
    ],
    refuse: ["rbac:**:write", "secrets:read", "secrets:write"],
  },
  "privacy-officer": {
    description:
      "privacy operations: data-subject requests and their exports, consent, breaches, processors, DPIAs, retention",
    // The one built-in role besides admin that may download access exports: they hold a person's data.
    permissions: ["privacy:**", "incidents:read", "audit:read", "audit:personal:reveal"],
  },
  "compliance-manager": {
    description:
      "continuous compliance: runs checks, requests and approves exceptions, adds and reviews evidence, exports reports",
    permissions: ["compliance:**", "audit:read", "incidents:read", "scans:read", "privacy:read"],
  },
  operator: {
    description: "gateway and route operations; reads most things, never secret values",
    permissions: ["**:read", "gateway:**", "policy:test", "identity:sessions:revoke", "jit:requests:create"],
    refuse: ["secrets:read"],
  },
  developer: {
    description: "reads routes, tests policies, requests just-in-time access",
    permissions: ["gateway:routes:read", "policy:test", "jit:requests:create", "jit:requests:read"],
  },
  auditor: {
    description: "read-only everywhere, audit log included; never secret values",
    // Verifying the audit log is reading it with proofs: the auditor's job.
    permissions: ["**:read", "audit:verify", "secrets:list"],
    refuse: ["secrets:read"],
  },
});

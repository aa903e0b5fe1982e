// Prometheus metrics of the secrets manager, derived from its events on the spine (the server
// subscribes `observe` to the bus), plus the store's seal state and KEK age read at scrape time.
// No secret path is ever a label: every label here takes one of a few values the code fixes.
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "../../platform/clock.ts";
import type { SecurityEvent } from "../../platform/events/index.ts";
import type { SecretsStatus } from "./index.ts";
import { capabilities } from "./types.ts";

/** Changes to secrets, by the operation the event type names. */
const writeOperations: Record<string, string> = {
  "secrets.written": "put",
  "secrets.deleted": "delete",
  "secrets.undeleted": "undelete",
  "secrets.destroyed": "destroy",
  "secrets.revoked": "revoke",
  "secrets.rolled_back": "rollback",
  "secrets.metadata_changed": "metadata",
};

export interface SecretsMetricsSources {
  /** The store's status, read at each scrape; undefined while the store could not open. */
  status?: () => SecretsStatus | undefined;
  clock: Clock;
}

export interface SecretsMetrics {
  /** Counts what a batch of events says; hand it to `bus.subscribe`. */
  readonly observe: (events: readonly SecurityEvent[]) => void;
}

/** Registers the secrets manager's metrics on `registry`; `observe` feeds the counters from the event spine. */
export function createSecretsMetrics(registry: Registry, sources: SecretsMetricsSources): SecretsMetrics {
  const reads = new Counter({
    name: "rampart_secrets_reads_total",
    help: "Secret reads, by outcome: success, failure (no such secret or version, expired), denied (no policy grants read).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const denied = new Counter({
    name: "rampart_secrets_denied_total",
    help: "Secrets operations refused by the path policies, by the capability that was missing.",
    labelNames: ["capability"],
    registers: [registry],
  });
  const writes = new Counter({
    name: "rampart_secrets_writes_total",
    help: "Changes to secrets, by operation (put, delete, undelete, destroy, revoke, rollback, metadata).",
    labelNames: ["operation"],
    registers: [registry],
  });
  const rotations = new Counter({
    name: "rampart_secrets_rotations_total",
    help: "Credential rotations, by phase (rotate: a new credential; retire: the old one ended) and result (success, failure).",
    labelNames: ["phase", "result"],
    registers: [registry],
  });
  const integrity = new Counter({
    name: "rampart_secrets_integrity_failures_total",
    help: "Stored secrets whose ciphertext failed authentication: written to the database behind Rampart's back.",
    registers: [registry],
  });
  const unsealFailures = new Counter({
    name: "rampart_secrets_unseal_failures_total",
    help: "Unseal key shares refused.",
    registers: [registry],
  });
  const kekRotations = new Counter({
    name: "rampart_secrets_kek_rotations_total",
    help: "Key-encryption keys made (KEK rotations).",
    registers: [registry],
  });
  const backups = new Counter({
    name: "rampart_secrets_backups_total",
    help: "Backups of the encrypted store taken (backup) and loaded (restore), by result.",
    labelNames: ["kind", "result"],
    registers: [registry],
  });
  new Gauge({
    name: "rampart_secrets_sealed",
    help: "1 while the secrets store cannot serve secrets (sealed, or its root key could not be opened), else 0.",
    registers: [registry],
    collect() {
      this.set(sources.status?.()?.sealed === false ? 0 : 1);
    },
  });
  // Labelled by the root key provider so that, while sealed, the series is absent rather than 0.
  new Gauge({
    name: "rampart_secrets_kek_age_seconds",
    help: "Age of the current key-encryption key, by root key provider; absent while sealed.",
    labelNames: ["provider"],
    registers: [registry],
    collect() {
      this.reset();
      const status = sources.status?.();
      if (status?.kekCreatedAt)
        this.set(
          { provider: status.provider },
          (sources.clock.now().getTime() - Date.parse(status.kekCreatedAt)) / 1000,
        );
    },
  });

  function count(e: SecurityEvent): void {
    const operation = writeOperations[e.type];
    if (operation) {
      if (e.outcome === "success") writes.inc({ operation });
      return;
    }
    switch (e.type) {
      case "secrets.read":
        reads.inc({ outcome: e.outcome === "success" ? "success" : "failure" });
        return;
      case "secrets.denied": {
        const capability = capabilities.find((c) => c === e.data.capability) ?? "other";
        denied.inc({ capability });
        // A refused `get` is a read attempt; other operations are counted above only.
        if (e.data.operation === "get") reads.inc({ outcome: "denied" });
        return;
      }
      case "secrets.integrity_failed":
        integrity.inc();
        return;
      case "secrets.rotated":
        rotations.inc({ phase: "rotate", result: "success" });
        return;
      case "secrets.rotation_retired":
        rotations.inc({ phase: "retire", result: "success" });
        return;
      case "secrets.rotation_failed":
        rotations.inc({ phase: e.data.phase === "retire" ? "retire" : "rotate", result: "failure" });
        return;
      case "secrets.unseal_failed":
        unsealFailures.inc();
        return;
      case "secrets.kek_rotated":
        kekRotations.inc();
        return;
      case "secrets.backed_up":
        backups.inc({ kind: "backup", result: "success" });
        return;
      case "secrets.restored":
        backups.inc({ kind: "restore", result: "success" });
        return;
      case "secrets.restore_failed":
        backups.inc({ kind: "restore", result: "failure" });
        return;
    }
  }

  return {
    observe(events) {
      for (const e of events) count(e);
    },
  };
}

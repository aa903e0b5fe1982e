// Privacy operations on the control plane: the data map, the stores behind it, the DSR engine,
// the request workflow, consent, the registers, breaches and retention, with their timers.
import { createHmac, createPublicKey, type KeyObject } from "node:crypto";
import { resolve } from "node:path";
import type { RampartConfig } from "../config/index.ts";
import { type BreachRegister, createBreachRegister } from "../data/privacy/breach/index.ts";
import { type ConsentLedger, createConsentLedger } from "../data/privacy/consent/index.ts";
import { createConnectorRegistry } from "../data/privacy/dsr/connectors/index.ts";
import { createDsrEngine, type DsrEngineService, ed25519Signer } from "../data/privacy/dsr/index.ts";
import { type DataMap, loadDataMap, storeTypesFrom } from "../data/privacy/map/index.ts";
import { createPrivacyRegister, type PrivacyRegister } from "../data/privacy/register/index.ts";
import { createSmtpMailer, noMailer } from "../data/privacy/mail.ts";
import { createPrivacyRequests, type PrivacyRequests } from "../data/privacy/requests/index.ts";
import { createRetention, type Retention } from "../data/privacy/retention/index.ts";
import type { Clock } from "../platform/clock.ts";
import type { SecurityEvent } from "../platform/events/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { Store } from "../platform/store/index.ts";

export { privacyMigrations } from "../data/privacy/migrations.ts";

export interface Privacy {
  /** The data map in force (empty when `privacy.map` names no files). */
  map(): DataMap;
  readonly engine: DsrEngineService;
  /** PEM of the Ed25519 key receipts verify with (the audit log's signing key). */
  readonly receiptPublicKey: string;
  readonly requests: PrivacyRequests;
  readonly consent: ConsentLedger;
  readonly register: PrivacyRegister;
  readonly breaches: BreachRegister;
  readonly retention: Retention;
  /** Crypto-shreds a person in the audit log; whether Rampart's log knew them. */
  shredAuditSubject(identifier: string): Promise<boolean>;
  close(): Promise<void>;
}

const MINUTE_MS = 60_000;
const emptyMap: DataMap = { systems: [], purposes: [], datasets: [], retention: [] };

/**
 * Loads the data map (a broken map refuses the start, with every problem located) and starts the
 * privacy services. `keys` come from the audit key file: receipts are signed with its Ed25519 key
 * (verifiable with the audit verifier key) and people are keyed with an HMAC derived from it.
 */
export async function startPrivacy(o: {
  config: () => RampartConfig;
  configDir: string;
  store: Store;
  clock: Clock;
  emit: (e: SecurityEvent) => void;
  logger: Logger;
  keys: { signingKey: KeyObject; keyId: string; subjectKey: KeyObject };
  /** Crypto-shreds a person in the audit log (deletes their subject mapping and data key); whether there was one. */
  shredAuditSubject: (identifier: string) => Promise<boolean>;
  leading: () => boolean;
}): Promise<Privacy> {
  const { store, clock, emit, logger } = o;
  const section = () => o.config().privacy;
  // The map follows config reloads: loaded again only when the section's map or connections change.
  let loadedFor: unknown;
  let map = emptyMap;
  const currentMap = (): DataMap => {
    const s = section();
    const key = JSON.stringify([s.map, s.connections]);
    if (key !== loadedFor) {
      map =
        s.map.length === 0
          ? emptyMap
          : loadDataMap(
              s.map.map((p) => resolve(o.configDir, p)),
              { storeTypes: storeTypesFrom(s.connections) },
            );
      loadedFor = key;
    }
    return map;
  };
  currentMap();

  const connectors = createConnectorRegistry(section().connections);
  const subjectKey = (id: string) => createHmac("sha256", o.keys.subjectKey).update(id).digest("hex");
  const dsr = createDsrEngine({
    store,
    map: currentMap,
    connectorFor: connectors.connectorFor,
    clock,
    emit,
    signer: ed25519Signer(o.keys.signingKey, o.keys.keyId),
    maxRowsPerCollection: section().dsr.maxRowsPerCollection,
    leaseMs: section().dsr.leaseSeconds * 1000,
  });
  // An erasure also shreds the person in Rampart's own audit log, under each identity it was given.
  const engine: DsrEngineService = {
    ...dsr,
    async run(request) {
      const receipt = await dsr.run(request);
      if (request.kind === "erasure")
        for (const identifier of Object.values(request.identities)) await o.shredAuditSubject(identifier);
      return receipt;
    },
  };
  const smtp = section().smtp;
  const mailer = smtp.url ? createSmtpMailer({ url: smtp.url, from: smtp.from }) : noMailer;
  const requests = createPrivacyRequests({
    store,
    clock,
    emit,
    engine,
    mailer,
    config: () => section().requests,
  });
  const consent = createConsentLedger({ store, clock, emit, subjectKey, config: section().consent });
  const register = createPrivacyRegister({ store, clock, emit, config: section().register });
  const breaches = createBreachRegister({ store, clock, emit, config: () => section().breaches });
  const retention = createRetention({
    store,
    clock,
    emit,
    map: currentMap,
    connectorFor: connectors.connectorFor,
    engine,
    ...(smtp.url ? { mailer } : {}),
    config: () => section().retention,
    subjectKey: Buffer.from(subjectKey("rampart privacy retention v1"), "hex"),
  });

  // Requests a crash left half done finish first (erasure is idempotent and resumable).
  if (section().dsr.resumeOnStart)
    void engine
      .resumePending()
      .then((n) => n > 0 && logger.info({ requests: n }, "resumed unfinished data-subject requests"))
      .catch((err) => logger.warn({ err: (err as Error).message }, "resuming data-subject requests failed"));

  const every = (ms: number, what: string, job: () => Promise<unknown>) => {
    let running = false;
    const t = setInterval(() => {
      if (running || !o.leading()) return;
      running = true;
      job()
        .catch((err) => logger.warn({ err: (err as Error).message }, `${what} failed; will retry`))
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    return t;
  };
  const timers = [
    every(MINUTE_MS, "privacy request deadlines", () => requests.tick()),
    every(MINUTE_MS, "breach clocks", () => breaches.tick()),
    every(24 * 60 * MINUTE_MS, "consent purge", () => consent.purgeExpired()),
    every(section().retention.intervalMinutes * MINUTE_MS, "retention run", async () =>
      section().retention.enabled && map.retention.length > 0 ? retention.run() : undefined,
    ),
  ];

  return {
    map: currentMap,
    engine,
    receiptPublicKey: createPublicKey(o.keys.signingKey).export({ format: "pem", type: "spki" }).toString(),
    requests,
    consent,
    register,
    breaches,
    retention,
    shredAuditSubject: o.shredAuditSubject,
    async close() {
      for (const t of timers) clearInterval(t);
      await requests.idle().catch(() => {});
      await connectors.close();
      if ("close" in mailer && typeof mailer.close === "function") mailer.close();
    },
  };
}

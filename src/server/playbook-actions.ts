// What a playbook step does, carried out by the real modules: gateway blocks and lockdowns through
// hot state, identity revocations, secret rotation and revocation, evidence bundles from the audit
// log. Each action's module emits its own event with the playbook as actor; the runner adds the
// step's own event. Incident and alert actions go through functions the server injects.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_ROLE, type SecretsCaller } from "../appsec/secrets/index.ts";
import type { Identity } from "../identity/types.ts";
import { type AuditTables, queryEntries, subjectRef as auditRef } from "../monitoring/audit/index.ts";
import type { Priority } from "../monitoring/detect/types.ts";
import {
  type ActionContext,
  breachClocks,
  type BreachClockKind,
  type PlaybookActions,
  subjectRef,
} from "../monitoring/playbooks/actions.ts";
import { routeId } from "../config/index.ts";
import { createBlockList, type IpBlock } from "../network/gateway/blocks.ts";
import { createLockdowns } from "../network/gateway/lockdown.ts";
import { Invalid, NotFound, Unavailable } from "../platform/errors.ts";
import { type EventRef, newEvent } from "../platform/events/index.ts";
import type { Runtime } from "./runtime.ts";

/** A breach notification clock as recorded on the incident. */
export interface BreachClock {
  kind: BreachClockKind;
  regulator: string;
  startedAt: string;
  dueAt: string;
  status: string;
}

/** Services other parts of the server provide; an action that needs a missing one fails its step. */
export interface IncidentHooks {
  notify?: (text: string, priority: Priority, channel?: string, incident?: string) => Promise<unknown>;
  incidentNote?: (id: string, text: string, by: EventRef) => Promise<unknown>;
  incidentTransition?: (id: string, to: string, by: EventRef) => Promise<unknown>;
  recordBreachClocks?: (id: string, clocks: BreachClock[], by: EventRef) => Promise<unknown>;
}

export type PlaybookRuntime = Pick<
  Runtime,
  | "hot"
  | "clock"
  | "bus"
  | "audit"
  | "store"
  | "identity"
  | "secrets"
  | "secretsProblem"
  | "secretsRotation"
  | "dataDir"
  | "config"
  | "logger"
>;

/** Who the playbook's secrets calls act as: role admin, named after the playbook in events. */
export function playbookCaller(by: EventRef): SecretsCaller {
  return {
    identity: {
      kind: "service",
      subject: "rampart:playbook",
      groups: [],
      roles: [ADMIN_ROLE],
      claims: {},
      credential: "api-key",
    },
    actor: by,
  };
}

const READ_LOG_PAGES = 50;
const EVIDENCE_PAGES = 20;

// Incident ids become directory names: anything unusual is hashed rather than trusted.
const safeName = (s: string) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$/.test(s) && !s.includes("..")
    ? s
    : createHash("sha256").update(s).digest("hex").slice(0, 32);

/** The server's PlaybookActions over a runtime's modules and the incident hooks. */
export function createPlaybookActions(rt: PlaybookRuntime, hooks: IncidentHooks = {}): PlaybookActions {
  const blocks = createBlockList(rt.hot, { clock: rt.clock });
  const lockdowns = createLockdowns(rt.hot, { clock: rt.clock });
  const by = (ctx: ActionContext) => `${ctx.by.kind}:${ctx.by.id}`;
  const context = (ctx: ActionContext) => ({
    incident: ctx.incident?.id ?? null,
    run: ctx.run,
    step: ctx.step,
    triggeredBy: ctx.triggeredBy,
  });

  const secrets = () => {
    if (!rt.secrets)
      throw new Unavailable(`the secrets store is not open: ${rt.secretsProblem ?? "see the server log"}`);
    return rt.secrets;
  };
  const rotation = () => {
    if (!rt.secretsRotation)
      throw new Unavailable("secret rotation is not running (the secrets store is not open)");
    return rt.secretsRotation;
  };
  const incidentOf = (ctx: ActionContext, action: string) => {
    if (!ctx.incident) throw new Invalid(`${action} needs a run started for an incident`, "incident");
    return ctx.incident.id;
  };
  const needs = <K extends keyof IncidentHooks>(k: K, action: string): NonNullable<IncidentHooks[K]> => {
    const f = hooks[k];
    if (!f) throw new Unavailable(`${action} is not available: the server has no ${k} service wired`);
    return f as NonNullable<IncidentHooks[K]>;
  };

  // Paged reads of the audit log, newest first.
  async function* entries(q: Parameters<typeof queryEntries>[1], pages: number) {
    const db = rt.store.db.withTables<AuditTables>();
    let cursor: string | undefined;
    for (let page = 0; page < pages; page++) {
      const res = await queryEntries(db, { ...q, limit: 1000, cursor }, (ref) =>
        auditRef(ref, rt.audit.subjectKey),
      );
      yield* res.entries;
      if (!res.next) return;
      cursor = res.next;
    }
  }

  // A block at every gateway, audited as through the API; one that cannot be recorded is taken back.
  async function block(
    target: string,
    ref: { kind: "ip" | "country" },
    p: { ttl: number; reason: string },
    ctx: ActionContext,
  ) {
    const b: IpBlock = await blocks.add({ target, ttlSeconds: p.ttl, reason: p.reason, by: by(ctx) });
    const id = ref.kind === "country" ? b.target.slice("country:".length) : b.target;
    await rt.bus
      .publish([
        newEvent(
          {
            type: "gateway.block_added",
            severity: "medium",
            actor: ctx.by,
            target: { kind: ref.kind, id },
            data: { reason: b.reason, expiresAt: b.expiresAt, ...context(ctx) },
          },
          rt.clock.now(),
        ),
      ])
      .catch(async (err: unknown) => {
        await blocks.remove(b.target).catch(() => {});
        throw err;
      });
    return { target: b.target, expiresAt: b.expiresAt };
  }

  return {
    async blockIp(p, ctx) {
      return block(p.ip, { kind: "ip" }, p, ctx);
    },

    async blockCountry(p, ctx) {
      return block(`country:${p.country}`, { kind: "country" }, p, ctx);
    },

    async lockdownRoute(p, ctx) {
      // Only a route in the config in force: a typo must not look like a lockdown that holds.
      if (!rt.config.routes.some((r) => routeId(r) === p.route))
        throw new NotFound(`no route '${p.route}' in the config in force`);
      const lockdown = await lockdowns.add({
        route: p.route,
        ttlSeconds: p.ttl,
        reason: p.reason,
        by: by(ctx),
        allow: p.allow,
      });
      await rt.bus
        .publish([
          newEvent(
            {
              type: "gateway.lockdown_added",
              severity: "high",
              actor: ctx.by,
              target: { kind: "route", id: lockdown.route },
              data: {
                reason: lockdown.reason,
                expiresAt: lockdown.expiresAt,
                allow: lockdown.allow,
                ...context(ctx),
              },
            },
            rt.clock.now(),
          ),
        ])
        .catch(async (err: unknown) => {
          await lockdowns.remove(lockdown.route).catch(() => {});
          throw err;
        });
      return { route: lockdown.route, allow: lockdown.allow, expiresAt: lockdown.expiresAt };
    },

    async revokeApiKey(p, ctx) {
      const key = await rt.identity.apiKeys.revoke(p.id, ctx.by);
      return { id: key.id, subject: key.subject, revokedAt: key.revokedAt ?? null };
    },

    async revokeSubject(p, ctx) {
      return rt.identity.revokeSubject(p.subject, ctx.by, p.reason);
    },

    async rotateSecret(p, ctx) {
      const outcome = await rotation().rotateNow(playbookCaller(ctx.by), p.path, {
        retirePrevious: p.retirePrevious,
      });
      return { path: outcome.path, version: outcome.version ?? null };
    },

    async rotateReadableBy(p, ctx) {
      const ref = subjectRef(p.subject, p.kind);
      const since = new Date(rt.clock.now().getTime() - p.since * 1000).toISOString();
      // Reads still in the event batcher count too.
      await rt.bus.flush();
      const read = new Set<string>();
      for await (const e of entries(
        { type: "secrets.read", actor: `${ref.kind}:${ref.id}`, from: since },
        READ_LOG_PAGES,
      ))
        if (e.outcome === "success" && e.target?.startsWith("secret:"))
          read.add(e.target.slice("secret:".length));
      // Groups and roles are not known here: policies granting the subject by name count.
      const principal: Identity = {
        kind: ref.kind as "user" | "service",
        subject: p.subject,
        groups: [],
        roles: [],
        claims: {},
        credential: ref.kind === "user" ? "session" : "api-key",
      };
      const granted = await secrets().readableBy(playbookCaller(ctx.by), principal);
      const candidates = [...new Set([...read, ...granted])].sort();
      const scheduled = new Set(rt.config.secrets.rotation.map((s) => s.path));
      const rotatable = candidates.filter((path) => scheduled.has(path));
      const rotated: { path: string; version: number | null }[] = [];
      const failed: { path: string; error: string }[] = [];
      for (const path of rotatable) {
        try {
          const o = await rotation().rotateNow(playbookCaller(ctx.by), path, {
            retirePrevious: p.retirePrevious,
          });
          rotated.push({ path, version: o.version ?? null });
        } catch (err) {
          failed.push({ path, error: (err as Error).message });
        }
      }
      const summary = {
        subject: p.subject,
        readFromLog: [...read].sort(),
        grantedByPolicy: granted,
        rotated,
        failed,
        withoutSchedule: candidates.filter((path) => !scheduled.has(path)),
      };
      if (failed.length > 0)
        throw new Unavailable(
          `rotated ${rotated.length} of ${rotatable.length}; failed: ${failed.map((f) => `${f.path} (${f.error})`).join("; ")}`,
        );
      return summary;
    },

    async revokeSecretVersion(p, ctx) {
      const caller = playbookCaller(ctx.by);
      const version = p.version ?? (await secrets().metadata(caller, p.path)).currentVersion;
      if (version < 1) throw new Invalid(`${p.path} has no version to revoke`, "version");
      await secrets().revoke(caller, p.path, version, p.reason);
      return { path: p.path, version };
    },

    async snapshotEvidence(p, ctx) {
      const now = rt.clock.now();
      const from = new Date(now.getTime() - p.query.since * 1000);
      await rt.bus.flush();
      const matching: unknown[] = [];
      let truncated = false;
      for await (const e of entries(
        { from: from.toISOString(), actor: p.query.actor, target: p.query.target },
        EVIDENCE_PAGES,
      )) {
        if (matching.length >= EVIDENCE_PAGES * 1000) {
          truncated = true;
          break;
        }
        matching.push(e);
      }
      const dir = join(rt.dataDir, "evidence", safeName(ctx.incident?.id ?? "no-incident"));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const name = `${safeName(ctx.run)}-${safeName(ctx.step)}`;
      // The signed bundle proves the entries are the log's own; it covers the whole time range.
      let bundle: Record<string, unknown>;
      try {
        await rt.audit.checkpoint();
        const bundleDir = join(dir, `${name}.bundle`);
        const manifest = await rt.audit.exportBundle({
          from,
          to: new Date(now.getTime() + 1000),
          dir: bundleDir,
        });
        bundle = {
          dir: `${name}.bundle`,
          entries: manifest.entries,
          manifestSha256: createHash("sha256")
            .update(readFileSync(join(bundleDir, "manifest.json")))
            .digest("hex"),
          verifierKey: manifest.verifierKey,
        };
      } catch (err) {
        bundle = { error: (err as Error).message };
      }
      const document = `${JSON.stringify(
        {
          kind: "rampart.evidence/v1",
          createdAt: now.toISOString(),
          ...context(ctx),
          query: { ...p.query, from: from.toISOString() },
          count: matching.length,
          truncated,
          entries: matching,
          bundle,
        },
        null,
        2,
      )}\n`;
      const file = join(dir, `${name}.json`);
      // Write-once: evidence is never overwritten.
      writeFileSync(file, document, { mode: 0o400, flag: "wx" });
      const sha256 = createHash("sha256").update(document).digest("hex");
      rt.bus.emit(
        newEvent(
          {
            type: "evidence.snapshot_taken",
            severity: "info",
            actor: ctx.by,
            target: ctx.incident
              ? { kind: "incident", id: ctx.incident.id }
              : { kind: "playbook_run", id: ctx.run },
            data: {
              file: join("evidence", safeName(ctx.incident?.id ?? "no-incident"), `${name}.json`),
              sha256,
              entries: matching.length,
              ...context(ctx),
            },
          },
          now,
        ),
      );
      return { file, sha256, entries: matching.length, truncated, bundle };
    },

    async notify(p, ctx) {
      const send = needs("notify", "notify");
      await send(p.text, ctx.incident?.priority ?? "P2", p.channel, ctx.incident?.id);
      return { channel: p.channel ?? "default", sent: true };
    },

    async startBreachClocks(p, ctx) {
      const id = incidentOf(ctx, "incident.start_breach_clocks");
      const record = needs("recordBreachClocks", "incident.start_breach_clocks");
      const start = rt.clock.now();
      const clocks: BreachClock[] = [...new Set(p.kinds)].map((kind) => ({
        kind,
        regulator: breachClocks[kind].regulator,
        startedAt: start.toISOString(),
        dueAt: new Date(start.getTime() + breachClocks[kind].hours * 3_600_000).toISOString(),
        status: p.status,
      }));
      await record(id, clocks, ctx.by);
      return { incident: id, clocks };
    },

    async noteIncident(p, ctx) {
      const id = incidentOf(ctx, "incident.note");
      await needs("incidentNote", "incident.note")(id, p.text, ctx.by);
      return { incident: id };
    },

    async transitionIncident(p, ctx) {
      const id = incidentOf(ctx, "incident.transition");
      await needs("incidentTransition", "incident.transition")(id, p.to, ctx.by);
      return { incident: id, to: p.to };
    },
  };
}

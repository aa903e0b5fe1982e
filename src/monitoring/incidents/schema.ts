// Incident tables and the input shapes the service, API and CLI share.
import { type Generated, type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import { priorities } from "../detect/types.ts";
import { incidentStates } from "./states.ts";

export const timelineKinds = [
  "detection",
  "state",
  "note",
  "evidence",
  "event",
  "action",
  "commander",
  "priority",
  "review",
] as const;
export type TimelineKind = (typeof timelineKinds)[number];

export type IncidentTables = {
  incidents: {
    id: string;
    title: string;
    summary: string | null;
    priority: string;
    state: string;
    fingerprint: string | null;
    rule: string | null;
    commander: string | null;
    created_at: Date;
    acknowledged_at: Date | null;
    contained_at: Date | null;
    recovered_at: Date | null;
    closed_at: Date | null;
    review: string | null;
    playbook_runs: string;
    /** Ids (actor/target ids, group values) whose events join the timeline while the incident is open. */
    entities: string;
    auto_entries: number;
    auto_dropped: number;
  };
  incident_timeline: {
    id: Generated<string>;
    incident_id: string;
    at: Date;
    kind: string;
    actor: string;
    text: string;
    data: string;
  };
  incident_sequences: { year: number; last: number };
};

export const incidentMigrations: Record<string, Migration> = {
  "2026-11-24-05-incidents": {
    async up(db: Kysely<unknown>) {
      await sql`create table incidents (
          id text primary key,
          title text not null,
          summary text,
          priority text not null,
          state text not null,
          fingerprint text,
          rule text,
          commander text,
          created_at timestamptz not null,
          acknowledged_at timestamptz,
          contained_at timestamptz,
          recovered_at timestamptz,
          closed_at timestamptz,
          review text,
          playbook_runs text not null default '[]',
          entities text not null default '[]',
          auto_entries integer not null default 0,
          auto_dropped integer not null default 0
        )`.execute(db);
      // One live incident per fingerprint: detections of the same rule and group join it.
      await sql`create unique index incidents_live_fingerprint on incidents (fingerprint)
          where state <> 'closed' and fingerprint is not null`.execute(db);
      await sql`create index incidents_created on incidents (created_at)`.execute(db);
      await sql`create index incidents_state on incidents (state)`.execute(db);
      await sql`create table incident_timeline (
          id bigserial primary key,
          incident_id text not null references incidents (id),
          at timestamptz not null,
          kind text not null,
          actor text not null,
          text text not null,
          data text not null default '{}'
        )`.execute(db);
      await sql`create index incident_timeline_incident on incident_timeline (incident_id, id)`.execute(db);
      await sql`create table incident_sequences (year integer primary key, last integer not null)`.execute(
        db,
      );
    },
  },
};

export const prioritySchema = z.enum(priorities);
export const stateSchema = z.enum(incidentStates);
const text = (max: number) => z.string().trim().min(1).max(max);

export const openIncidentSchema = z.strictObject({
  title: text(200),
  priority: prioritySchema,
  summary: z.string().trim().max(4000).optional(),
  fingerprint: text(200).optional(),
  rule: text(200).optional(),
  commander: text(256).optional(),
});
export type OpenIncident = z.infer<typeof openIncidentSchema>;

export const transitionSchema = z.strictObject({ to: stateSchema, note: text(4000).optional() });
export const assignSchema = z.strictObject({ commander: text(256) });
export const noteSchema = z.strictObject({ text: text(10_000) });
export const prioritySchemaBody = z.strictObject({ priority: prioritySchema, reason: text(1000) });

export const evidenceSchema = z
  .strictObject({
    kind: z.enum(["event", "audit_bundle", "url", "file"]),
    ref: text(2000),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, "expected 64 hex digits")
      .transform((s) => s.toLowerCase())
      .optional(),
    description: text(2000),
  })
  .refine((e) => e.kind !== "url" || /^https?:\/\/\S+$/i.test(e.ref), {
    message: "a url's ref must be an http(s) URL",
    path: ["ref"],
  });
export type Evidence = z.infer<typeof evidenceSchema>;

export const reviewSchema = z.strictObject({
  summary: text(10_000),
  rootCause: text(10_000),
  lessons: z.array(text(2000)).min(1).max(100),
  actionItems: z
    .array(
      z.strictObject({
        title: text(500),
        owner: text(256).optional(),
        due: z.iso.date().optional(),
      }),
    )
    .max(100),
});
export type ReviewInput = z.infer<typeof reviewSchema>;

/** rampart.yaml's `incidents:` section. */
export const incidentsConfigSchema = z.strictObject({
  /** Detections at this priority or more urgent open an incident; the rest only alert. */
  openAt: z.enum(priorities).default("P2"),
});
export type IncidentsConfig = z.output<typeof incidentsConfigSchema>;

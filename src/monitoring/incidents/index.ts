// Incidents (layer 5 "respond"): life cycle, timeline, reviews, MTTA/MTTR metrics and reports.
export { createIncidentMetrics, durationBuckets, type IncidentMetrics } from "./metrics.ts";
export {
  buildReport,
  type DurationStats,
  humanDuration,
  type IncidentReport,
  type ReportLine,
} from "./report.ts";
export {
  assignSchema,
  type Evidence,
  evidenceSchema,
  incidentMigrations,
  type IncidentsConfig,
  incidentsConfigSchema,
  type IncidentTables,
  noteSchema,
  type OpenIncident,
  openIncidentSchema,
  prioritySchemaBody,
  type ReviewInput,
  reviewSchema,
  type TimelineKind,
  timelineKinds,
  transitionSchema,
} from "./schema.ts";
export {
  createIncidents,
  type Incident,
  type IncidentQuery,
  type Incidents,
  MAX_AUTO_ENTRIES,
  type Review,
  type TimelineEntry,
} from "./service.ts";
export { canMove, type IncidentState, incidentStates, isOpen, nextStates, reviewRequired } from "./states.ts";

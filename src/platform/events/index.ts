export {
  createEventBus,
  type EventBus,
  type EventBusOptions,
  type EventHandler,
  type EventJournal,
  type JournalItem,
} from "./bus.ts";
export {
  createEventForwarder,
  type EventForwarder,
  type EventForwarderOptions,
  type ForwarderStats,
} from "./forwarder.ts";
export {
  type EventRef,
  type NewEvent,
  newEvent,
  type Outcome,
  type RetentionClass,
  retentionClasses,
  type SecurityEvent,
  type Severity,
  securityEventSchema,
  severities,
  systemActor,
} from "./types.ts";

// The life cycle of a data-subject request: received → verifying → verified → (approved →)
// processing → completed | rejected | cancelled; a failed engine run waits in `failed` and is
// retried. Nothing reaches the engine before `verified`.

export const requestStates = [
  "received",
  "verifying",
  "verified",
  "approved",
  "processing",
  "completed",
  "rejected",
  "cancelled",
  "failed",
] as const;
export type RequestState = (typeof requestStates)[number];

const moves: Record<RequestState, readonly RequestState[]> = {
  received: ["verifying", "verified", "rejected", "cancelled"],
  verifying: ["verified", "rejected", "cancelled"],
  verified: ["approved", "processing", "rejected", "cancelled"],
  approved: ["processing", "rejected", "cancelled"],
  processing: ["completed", "failed", "rejected"],
  failed: ["processing", "rejected", "cancelled"],
  completed: [],
  rejected: [],
  cancelled: [],
};

/** States `from` may move to. */
export const nextStates = (from: RequestState): readonly RequestState[] => moves[from];

export const canMove = (from: RequestState, to: RequestState): boolean => moves[from].includes(to);

/** Finished: no deadline runs any more. */
export const isClosed = (s: RequestState): boolean =>
  s === "completed" || s === "rejected" || s === "cancelled";

/** Verified and still open: the states whose deadline operators must watch. */
export const isInHand = (s: RequestState): boolean =>
  s === "verified" || s === "approved" || s === "processing" || s === "failed";

/**
 * What people may ask for. access, erasure and rectification go to the engine; portability is an
 * access answered in JSON; objection and withdrawal are recorded and routed to a person; a nominee
 * (DPDP s.14) acts for a deceased or incapacitated principal and is always reviewed by a person; a
 * grievance (DPDP s.13) is a complaint about how a request or data was handled.
 */
export const requestKindNames = [
  "access",
  "erasure",
  "rectification",
  "portability",
  "objection",
  "withdrawal",
  "nominee",
  "grievance",
] as const;
export type PrivacyRequestKind = (typeof requestKindNames)[number];

/** The engine actions a request (or a nominee's) can ask for. */
export const engineActions = ["access", "erasure", "rectification", "portability"] as const;
export type EngineAction = (typeof engineActions)[number];

/** Whether the kind is carried out by a person rather than the engine. */
export const isManual = (k: PrivacyRequestKind): boolean =>
  k === "objection" || k === "withdrawal" || k === "grievance";

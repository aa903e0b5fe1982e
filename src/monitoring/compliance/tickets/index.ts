// Tickets that follow compliance tests, on GitHub, GitLab or Jira.
export {
  createTracker,
  githubTicketsSchema,
  gitlabTicketsSchema,
  jiraTicketsSchema,
  type TicketStanding,
  type TicketsConfig,
  type TicketsConfigInput,
  ticketStandings,
  ticketsConfigSchema,
} from "./config.ts";
export { createGitHubTracker, type GitHubTrackerOptions } from "./github.ts";
export { createGitLabTracker, type GitLabTrackerOptions } from "./gitlab.ts";
export { DEFAULT_TIMEOUT_MS, TrackerError } from "./http.ts";
export { createJiraTracker, type JiraAuth, type JiraTrackerOptions } from "./jira.ts";
export {
  createTicketSync,
  fingerprintMarker,
  type TicketItemInfo,
  type TicketSync,
  type TicketSyncOptions,
  type TicketSyncSummary,
  type TicketTables,
  ticketMigrations,
} from "./sync.ts";

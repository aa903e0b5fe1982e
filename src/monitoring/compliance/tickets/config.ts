// The `compliance.tickets` section of rampart.yaml: which tracker follows the tests, how to reach
// it, and when a ticket opens and closes. The token is best a reference (`${env:GITHUB_TOKEN}`),
// resolved before this schema sees it.
import { z } from "zod";
import type { TicketTracker } from "../model.ts";
import { createGitHubTracker } from "./github.ts";
import { createGitLabTracker } from "./gitlab.ts";
import { createJiraTracker } from "./jira.ts";

// References resolve to strings, so a string of digits counts as a number.
const digitsToNumber = (value: unknown) =>
  typeof value === "string" && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;

/** Standings that open (or keep open) a ticket. */
export const ticketStandings = ["at_risk", "failing", "overdue"] as const;
export type TicketStanding = (typeof ticketStandings)[number];

const httpUrl = z
  .url({ protocol: /^https?$/, error: "expected an http(s) URL" })
  .transform((u) => u.replace(/\/+$/, ""));

const common = {
  /** The tracker's API token; never logged, never in an error. */
  token: z.string().min(1, "a token is required (best a reference such as ${env:TRACKER_TOKEN})"),
  /** Labels on every ticket Rampart opens. */
  labels: z.array(z.string().trim().min(1).max(100)).max(20).default(["compliance"]),
  /** Consecutive passing runs before the ticket closes. */
  closeAfterPasses: z.preprocess(digitsToNumber, z.number().int().min(1).max(100)).default(1),
  /** Which standings get a ticket. */
  on: z.array(z.enum(ticketStandings)).min(1).default(["at_risk", "failing", "overdue"]),
  /** Per call to the tracker. */
  timeoutMs: z.preprocess(digitsToNumber, z.number().int().min(100).max(120_000)).default(10_000),
};

export const githubTicketsSchema = z.strictObject({
  provider: z.literal("github"),
  /** GitHub Enterprise Server: https://github.example.com/api/v3. */
  apiUrl: httpUrl.default("https://api.github.com"),
  repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected "owner/name"'),
  ...common,
});

export const gitlabTicketsSchema = z.strictObject({
  provider: z.literal("gitlab"),
  /** The instance, without /api/v4. */
  url: httpUrl,
  /** Numeric id or full path ("group/project"). */
  project: z.union([z.number().int().positive(), z.string().trim().min(1)]),
  ...common,
});

export const jiraTicketsSchema = z.strictObject({
  provider: z.literal("jira"),
  url: httpUrl,
  /** Project key, e.g. SEC. */
  project: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "expected a project key such as SEC"),
  issueType: z.string().trim().min(1).default("Task"),
  /** Jira Cloud: the account the API token belongs to (basic auth). Absent: the token is a Data Center personal access token (bearer). */
  email: z.string().trim().min(3).optional(),
  ...common,
});

export const ticketsConfigSchema = z.discriminatedUnion("provider", [
  githubTicketsSchema,
  gitlabTicketsSchema,
  jiraTicketsSchema,
]);

export type TicketsConfig = z.infer<typeof ticketsConfigSchema>;
export type TicketsConfigInput = z.input<typeof ticketsConfigSchema>;

/** The tracker a validated config names. */
export function createTracker(config: TicketsConfig): TicketTracker {
  switch (config.provider) {
    case "github":
      return createGitHubTracker({
        apiUrl: config.apiUrl,
        repo: config.repo,
        token: config.token,
        labels: config.labels,
        timeoutMs: config.timeoutMs,
      });
    case "gitlab":
      return createGitLabTracker({
        url: config.url,
        project: config.project,
        token: config.token,
        labels: config.labels,
        timeoutMs: config.timeoutMs,
      });
    case "jira":
      return createJiraTracker({
        url: config.url,
        project: config.project,
        issueType: config.issueType,
        auth: config.email ? { email: config.email, token: config.token } : { token: config.token },
        labels: config.labels,
        timeoutMs: config.timeoutMs,
      });
  }
}

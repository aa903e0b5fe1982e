// Jira as a ticket tracker, over REST API v2 (plain-text descriptions; the same on Cloud and Data
// Center). Jira has no open/closed flag: an issue is closed when its status is in the "done"
// category, and it moves only along its workflow's transitions, so closing and reopening pick the
// transition that leads into or out of that category.
import type { TicketDraft, TicketTracker } from "../model.ts";
import { createJsonClient, field, isString, required, TrackerError } from "./http.ts";

export type JiraAuth =
  /** Jira Cloud: the account's email and an API token, sent as basic auth. */
  | { email: string; token: string }
  /** Jira Data Center / Server: a personal access token, sent as a bearer token. */
  | { token: string };

export interface JiraTrackerOptions {
  /** The site, e.g. https://example.atlassian.net or https://jira.example.com (with its context path). */
  url: string;
  /** Project key, e.g. "SEC". */
  project: string;
  /** Default "Task". */
  issueType?: string | undefined;
  auth: JiraAuth;
  labels?: string[] | undefined;
  timeoutMs?: number | undefined;
}

const NAME = "jira";
const DONE = "done";
const SUMMARY_MAX = 255;

// Jira's error body: a list of general messages and a map of field errors.
const explain = (body: unknown): string | undefined => {
  const messages = field(body, "errorMessages");
  const errors = field(body, "errors");
  const parts = [
    ...(Array.isArray(messages) ? messages.filter(isString) : []),
    ...(typeof errors === "object" && errors !== null
      ? Object.entries(errors).map(([k, v]) => `${k}: ${String(v)}`)
      : []),
  ];
  return parts.length ? parts.join("; ") : undefined;
};

interface Transition {
  id: string;
  name: string;
  to: string;
  category: string;
}

export function createJiraTracker(o: JiraTrackerOptions): TicketTracker {
  const site = o.url.replace(/\/+$/, "");
  const basic =
    "email" in o.auth ? Buffer.from(`${o.auth.email}:${o.auth.token}`).toString("base64") : undefined;
  const client = createJsonClient({
    tracker: NAME,
    baseUrl: `${site}/rest/api/2`,
    headers: {
      Authorization: basic ? `Basic ${basic}` : `Bearer ${o.auth.token}`,
      Accept: "application/json",
    },
    secrets: [o.auth.token, ...(basic ? [basic] : [])],
    timeoutMs: o.timeoutMs,
    explain,
  });
  const issue = (key: string) => {
    if (!/^[A-Z][A-Z0-9_]*-[0-9]+$/i.test(key)) throw new Error(`jira: "${key}" is not an issue key`);
    return `/issue/${encodeURIComponent(key)}`;
  };
  const browse = (key: string) => `${site}/browse/${encodeURIComponent(key)}`;
  // Jira labels cannot hold spaces.
  const label = (l: string) => l.trim().replace(/\s+/g, "-");

  const transitions = async (op: string, key: string): Promise<Transition[]> => {
    const body = await client.call(op, "GET", `${issue(key)}/transitions`);
    const list = field(body, "transitions");
    if (!Array.isArray(list))
      throw new TrackerError(NAME, op, `jira: ${op} ${key}: the answer lists no transitions`);
    return list.map((t) => ({
      id: String(field(t, "id")),
      name: String(field(t, "name")),
      to: String(field(t, "to", "name")),
      category: String(field(t, "to", "statusCategory", "key")),
    }));
  };
  const move = async (
    op: string,
    key: string,
    wanted: (ts: Transition[]) => Transition | undefined,
    aim: string,
  ) => {
    const ts = await transitions(op, key);
    const t = wanted(ts);
    if (!t) {
      const available = ts.length
        ? ts.map((x) => `"${x.name}" → ${x.to} (${x.category})`).join(", ")
        : "none";
      throw new TrackerError(NAME, op, `jira: ${op} ${key}: no transition ${aim}; available: ${available}`);
    }
    await client.call(op, "POST", `${issue(key)}/transitions`, { transition: { id: t.id } });
  };
  const comment = async (op: string, key: string, text: string) => {
    await client.call(op, "POST", `${issue(key)}/comment`, { body: text });
  };

  return {
    name: NAME,
    async create(draft: TicketDraft) {
      const op = "create issue";
      const summary =
        draft.title.length > SUMMARY_MAX ? `${draft.title.slice(0, SUMMARY_MAX - 1)}…` : draft.title;
      const body = await client.call(op, "POST", "/issue", {
        fields: {
          project: { key: o.project },
          issuetype: { name: o.issueType ?? "Task" },
          summary,
          description: draft.body,
          labels: [...new Set([...(o.labels ?? []), ...draft.labels].map(label))],
        },
      });
      const key = required(NAME, op, field(body, "key"), "issue key", isString);
      return { key, url: browse(key), open: true };
    },
    async get(key) {
      const op = "get issue";
      const body = await client.call(op, "GET", `${issue(key)}?fields=status`);
      const category = required(
        NAME,
        op,
        field(body, "fields", "status", "statusCategory", "key"),
        "status category",
        isString,
      );
      return { key, url: browse(key), open: category !== DONE };
    },
    comment: (key, text) => comment("comment", key, text),
    // Comment first, then the transition: a failed transition leaves the issue as our record says.
    async close(key, text) {
      await comment("close issue", key, text);
      await move("close issue", key, (ts) => ts.find((t) => t.category === DONE), "leads to a done status");
    },
    async reopen(key, text) {
      await comment("reopen issue", key, text);
      // Back to the start of the workflow if it can, else to any status that is not done.
      await move(
        "reopen issue",
        key,
        (ts) => ts.find((t) => t.category === "new") ?? ts.find((t) => t.category !== DONE),
        "leaves the done status",
      );
    },
  };
}
